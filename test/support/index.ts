/**
 * Test support: where the local stack is (env), waiting on conditions (wait), names that isolate
 * a test (names), and per-test provisioning with teardown of NATS streams (nats), Postgres schemas
 * (pg), MinIO buckets (minio) and Temporal connections (temporal); plus fixtures' plumbing.
 * Production code never imports this folder.
 */
export { natsCredentials, natsEnv, natsOptions, testEnv } from "./env.ts";
export { recorded, recordedChange } from "./events.ts";
export { FIXTURE_BIN, fixtureArgv } from "./fixture-bin.ts";
export { jcs } from "./jcs.ts";
export { minioClient, removeBuckets, uniqueBucketName } from "./minio.ts";
export { uniqueName } from "./names.ts";
export {
  connectTestNats,
  createTestEventStore,
  deleteStreams,
  type TestEventStore,
  type TestEventStoreOptions,
} from "./nats.ts";
export { freePort, holdPort } from "./net.ts";
export { createTestSchema, dropSchemas, schemaPool, type TestSchema } from "./pg.ts";
export { connectTemporal, type TestTemporal } from "./temporal.ts";
export { waitFor, withDeadline } from "./wait.ts";

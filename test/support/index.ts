/**
 * Test support: where the local stack is (env), waiting on conditions (wait), names that isolate
 * a test (names), and per-test provisioning with teardown of NATS streams (nats), Postgres schemas
 * (pg), MinIO buckets (minio), Temporal connections (temporal) and the local Kubernetes cluster
 * (cluster: namespaces, deployments, fake nodes); plus fixtures' plumbing.
 * Production code never imports this folder.
 */

export {
  clusterToolPath,
  createTestDeployment,
  createTestNamespace,
  createTestNode,
  deploymentManifest,
  type KubeObjectJson,
  kubectl,
  kubeGet,
  recordingBin,
  type TestDeploymentOptions,
  type TestNamespace,
  type TestNode,
  testCluster,
  uniqueKubeName,
} from "./cluster.ts";
export { type CliResult, type EmbeddedSystem, startEmbedded } from "./embedded.ts";
export { natsCredentials, natsEnv, natsOptions, testEnv } from "./env.ts";
export { recorded, recordedChange } from "./events.ts";
export { FIXTURE_BIN, recordedArgv } from "./fixture-bin.ts";
export { createTestGitRepo, type TestGitRepo } from "./git.ts";
export { jcs } from "./jcs.ts";
export { type LogServingNode, startLogServingNode } from "./kwok-logs.ts";
export { minioClient, removeBuckets, uniqueBucketName } from "./minio.ts";
export { uniqueName } from "./names.ts";
export {
  connectTestNats,
  createTestEventStore,
  deleteStreams,
  type TestEventStore,
  type TestEventStoreOptions,
} from "./nats.ts";
export { type NatsCluster, type NatsClusterNode, startNatsCluster } from "./nats-cluster.ts";
export { freePort, holdPort } from "./net.ts";
export { createTestSchema, dropSchemas, readModelRows, schemaPool, type TestSchema } from "./pg.ts";
export { connectTemporal, type TestTemporal } from "./temporal.ts";
export { waitFor, withDeadline } from "./wait.ts";

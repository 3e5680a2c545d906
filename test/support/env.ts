/**
 * Where the integration tests find the real services `scripts/infra up` runs, and the
 * credentials they connect with. The rest of test/support (see index.ts) gives each test
 * its own isolated slice of those services.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ConnectionOptions, nkeyAuthenticator } from "@nats-io/transport-node";

export const testEnv = {
  natsUrl: process.env.WH_NATS_URL ?? `nats://127.0.0.1:${process.env.WH_NATS_PORT ?? "4322"}`,
  pgUrl: process.env.WH_PG_URL_DB ?? "postgres://postgres@127.0.0.1:5432/wheelhouse",
  temporalAddress: process.env.WH_TEMPORAL_ADDRESS ?? `127.0.0.1:${process.env.WH_TEMPORAL_PORT ?? "7322"}`,
  /** The MinIO S3 endpoint as a URL (the evidence store's `endpoint`). */
  minioUrl: `http://127.0.0.1:${process.env.WH_MINIO_PORT ?? "9322"}`,
  minio: {
    endPoint: "127.0.0.1",
    port: Number(process.env.WH_MINIO_PORT ?? "9322"),
    useSSL: false,
    accessKey: process.env.WH_MINIO_USER ?? "wheelhouse",
    secretKey: process.env.WH_MINIO_PASSWORD ?? "wheelhouse-dev-only",
  },
} as const;

/** The local stack's NATS users' nkey seeds (`scripts/infra up` writes them; scripts/env.sh exports the path). */
const natsAuthDir = process.env.WH_NATS_AUTH ?? join(import.meta.dirname, "..", "..", ".data", "nats", "auth");

/**
 * `file:` reference to a local NATS user's seed (see scripts/nats-auth.ts for the users), or
 * `undefined` when the stack runs without NATS auth (no seeds written).
 */
export function natsCredentials(user = "embedded"): `file:${string}` | undefined {
  const file = join(natsAuthDir, `${user}.nk`);
  return existsSync(file) ? `file:${file}` : undefined;
}

/**
 * Options for `connect()` to the local stack's NATS as `user`: `admin` by default, since tests
 * create and delete their own streams; a service's user to check what that service may do.
 */
export function natsOptions(user = "admin", extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  const ref = natsCredentials(user);
  const seed = ref === undefined ? undefined : readFileSync(ref.slice("file:".length), "utf8").trim();
  return {
    servers: testEnv.natsUrl,
    ...(seed === undefined ? {} : { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) }),
    ...extra,
  };
}

/** Environment for a Wheelhouse process a test spawns: the NATS URL and, with auth on, `user`'s credentials. */
export function natsEnv(user = "embedded"): Record<string, string> {
  const ref = natsCredentials(user);
  return { WHEELHOUSE_NATS__URL: testEnv.natsUrl, ...(ref === undefined ? {} : { WHEELHOUSE_NATS__CREDENTIALS: ref }) };
}

/**
 * Where the integration tests find the real services `scripts/infra up` runs,
 * and helpers that give each test its own isolated slice of them.
 */
import { randomBytes } from "node:crypto";

export const testEnv = {
  natsUrl: process.env.WH_NATS_URL ?? `nats://127.0.0.1:${process.env.WH_NATS_PORT ?? "4322"}`,
  pgUrl: process.env.WH_PG_URL_DB ?? "postgres://postgres@127.0.0.1:5432/wheelhouse",
  temporalAddress: process.env.WH_TEMPORAL_ADDRESS ?? `127.0.0.1:${process.env.WH_TEMPORAL_PORT ?? "7322"}`,
  minio: {
    endPoint: "127.0.0.1",
    port: Number(process.env.WH_MINIO_PORT ?? "9322"),
    useSSL: false,
    accessKey: process.env.WH_MINIO_USER ?? "wheelhouse",
    secretKey: process.env.WH_MINIO_PASSWORD ?? "wheelhouse-dev-only",
  },
} as const;

/** A short random token for stream prefixes, schemas, buckets and task queues (lower-case, starts with a letter). */
export function uniqueName(base: string): string {
  return `${base}_${randomBytes(4).toString("hex")}`;
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, or
 * fails after `timeoutMs` with `what` in the message. Tests wait on
 * conditions with deadlines, never on fixed sleeps.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const suffix = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${suffix}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Names that isolate one test from every other: stream prefixes, schemas, KV buckets, task queues. */
import { randomBytes } from "node:crypto";

/** `base` and a short random token (lower-case hex): a stream prefix, schema, KV bucket or task queue of the test's own. */
export function uniqueName(base: string): string {
  return `${base}_${randomBytes(4).toString("hex")}`;
}

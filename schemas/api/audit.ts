/** `/v1/audit/events`: the hash-chained audit trail, filtered and paged. */
import * as v from "valibot";
import { CursorSchema, LimitSchema, pageSchema } from "./common.ts";

const timestamp = v.pipe(v.string(), v.isoTimestamp("must be an ISO 8601 timestamp such as 2026-01-31T12:00:00Z"));

export const AuditQuerySchema = v.strictObject({
  aggregate_type: v.optional(v.picklist(["plan", "execution", "signal", "context"])),
  aggregate_id: v.optional(v.string()),
  actor_id: v.optional(v.string()),
  action: v.optional(v.string()),
  correlation_id: v.optional(v.string()),
  service: v.optional(v.string()),
  since: v.optional(timestamp),
  until: v.optional(timestamp),
  cursor: CursorSchema,
  limit: LimitSchema,
});
export type AuditQuery = v.InferOutput<typeof AuditQuerySchema>;

export const AuditEventViewSchema = v.object({
  seq: v.number(),
  event_id: v.string(),
  action: v.string(),
  aggregate_type: v.string(),
  aggregate_id: v.string(),
  occurred_at: v.string(),
  actor: v.unknown(),
  outcome: v.nullable(v.string()),
  service: v.nullable(v.string()),
  correlation_id: v.nullable(v.string()),
  causation_id: v.nullable(v.string()),
  payload: v.unknown(),
  prev_hash: v.string(),
  hash: v.string(),
});

export const AuditPageSchema = pageSchema(AuditEventViewSchema);

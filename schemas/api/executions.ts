/** `/v1/executions`: runs of approved plan revisions, and their tool output. */
import * as v from "valibot";
import { ActorViewSchema, CursorSchema, LimitSchema, pageSchema } from "./common.ts";

export const ExecutionViewSchema = v.object({
  execution_id: v.string(),
  plan_id: v.string(),
  revision: v.number(),
  status: v.string(),
  dry_run: v.boolean(),
  requested_by: v.nullable(ActorViewSchema),
  steps: v.array(v.record(v.string(), v.unknown())),
  tool_calls: v.array(v.record(v.string(), v.unknown())),
  created_at: v.string(),
  updated_at: v.string(),
});
export type ExecutionView = v.InferOutput<typeof ExecutionViewSchema>;

export const ExecutionPageSchema = pageSchema(ExecutionViewSchema);

/** As in the executions read model (lib/db ExecutionStatus). */
export const ExecutionStatusSchema = v.picklist([
  "requested",
  "running",
  "verification_failed",
  "rolling_back",
  "rolled_back",
  "succeeded",
  "failed",
  "cancelled",
]);

export const ListExecutionsQuerySchema = v.strictObject({
  plan_id: v.optional(v.string()),
  status: v.optional(ExecutionStatusSchema),
  cursor: CursorSchema,
  limit: LimitSchema,
});

export const ExecutionIdParamsSchema = v.strictObject({
  id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,128}$/)),
});

/** One SSE `data:` of `GET /v1/executions/{id}/logs`; the SSE `id:` is the output stream sequence. */
export const LogChunkSchema = v.object({
  tool_call_id: v.string(),
  seq: v.number(),
  stream: v.picklist(["stdout", "stderr"]),
  text: v.string(),
});

/**
 * Tool calls, recorded on the execution that made them. Output chunks
 * (`tool_call.output`) go to the output stream, not the audit-critical one:
 * the full output is stored as evidence and its digest is in `completed`.
 */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

export const ToolCallStartedSchema = v.object({
  execution_id: IdSchema,
  tool_call_id: IdSchema,
  step_id: v.string(),
  action_id: v.string(),
  argv: v.array(v.string()),
  binary: v.string(),
  via: v.picklist(["cli", "api"]),
  dry_run: v.boolean(),
});

export const ToolCallOutputSchema = v.object({
  execution_id: IdSchema,
  tool_call_id: IdSchema,
  seq: v.pipe(v.number(), v.integer(), v.minValue(0)),
  stream: v.picklist(["stdout", "stderr"]),
  text: v.string(),
});

export const ToolCallCompletedSchema = v.object({
  execution_id: IdSchema,
  tool_call_id: IdSchema,
  step_id: v.string(),
  status: v.picklist(["succeeded", "failed", "timed_out", "refused"]),
  exit_code: v.nullable(v.number()),
  duration_ms: v.number(),
  truncated: v.boolean(),
  stdout_sha256: v.optional(v.string()),
  stderr_sha256: v.optional(v.string()),
  evidence_id: v.optional(v.string()),
  error: v.optional(v.string()),
  /**
   * Set when the call's process ended without reporting (its worker and router died) and the
   * orchestrator settled it from the target's live state instead of running it again: the read's
   * tool call and what it showed (services/orchestrator/activities/unfinished-call.ts).
   */
  settled_by_read: v.optional(v.object({ tool_call_id: v.string(), detail: v.string() })),
});

export const toolCallEvents = {
  "tool_call.started": { aggregate: "execution", version: 1, schema: ToolCallStartedSchema },
  "tool_call.output": { aggregate: "execution", version: 1, schema: ToolCallOutputSchema },
  "tool_call.completed": { aggregate: "execution", version: 1, schema: ToolCallCompletedSchema },
} as const;

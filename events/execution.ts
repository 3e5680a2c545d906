/** Execution aggregate: one run of an approved plan revision, driven by a Temporal workflow. */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

const revision = v.pipe(v.number(), v.integer(), v.minValue(1));

export const ExecutionRequestedSchema = v.object({
  execution_id: IdSchema,
  plan_id: IdSchema,
  revision,
  dry_run: v.optional(v.boolean(), false),
});

export const ExecutionStartedSchema = v.object({
  execution_id: IdSchema,
  plan_id: IdSchema,
  workflow_id: v.string(),
  run_id: v.optional(v.string()),
});

export const ExecutionStepSchema = v.object({
  execution_id: IdSchema,
  step_id: v.string(),
  action_id: v.string(),
  tool_call_id: v.optional(v.string()),
  status: v.picklist(["running", "succeeded", "failed", "skipped"]),
  detail: v.optional(v.string()),
});

export const VerificationCheckSchema = v.object({
  description: v.string(),
  passed: v.boolean(),
  detail: v.optional(v.string()),
  evidence_id: v.optional(v.string()),
});

export const ExecutionVerificationSchema = v.object({
  execution_id: IdSchema,
  step_id: v.optional(v.string()),
  checks: v.array(VerificationCheckSchema),
});

export const ExecutionRollbackSchema = v.object({
  execution_id: IdSchema,
  reason: v.string(),
  step_ids: v.array(v.string()),
});

export const ExecutionFinishedSchema = v.object({
  execution_id: IdSchema,
  plan_id: IdSchema,
  reason: v.optional(v.string()),
});

export const executionEvents = {
  "execution.requested": { aggregate: "execution", version: 1, schema: ExecutionRequestedSchema },
  "execution.started": { aggregate: "execution", version: 1, schema: ExecutionStartedSchema },
  "execution.step_started": { aggregate: "execution", version: 1, schema: ExecutionStepSchema },
  "execution.step_completed": { aggregate: "execution", version: 1, schema: ExecutionStepSchema },
  "execution.verified": { aggregate: "execution", version: 1, schema: ExecutionVerificationSchema },
  "execution.verification_failed": { aggregate: "execution", version: 1, schema: ExecutionVerificationSchema },
  "execution.rollback_started": { aggregate: "execution", version: 1, schema: ExecutionRollbackSchema },
  "execution.rolled_back": { aggregate: "execution", version: 1, schema: ExecutionRollbackSchema },
  "execution.succeeded": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
  "execution.failed": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
  "execution.cancelled": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
} as const;

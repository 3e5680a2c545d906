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

/**
 * One measurement of a step's verification analysis (lib/verification): what was asked of which
 * provider, the value read (null when there was none: an empty answer, NaN, a query error, a value
 * that is not a number), and how it was judged. `attempt` counts this step's measurements of this
 * provider from 1. The raw answer is evidence (`evidence_id`). Appended once per attempt.
 */
export const ExecutionMeasuredSchema = v.object({
  execution_id: IdSchema,
  step_id: v.string(),
  provider: v.picklist(["prometheus", "tempo", "kubectl"]),
  query: v.string(),
  attempt: v.pipe(v.number(), v.integer(), v.minValue(1)),
  value: v.nullable(v.pipe(v.number(), v.finite())),
  outcome: v.picklist(["pass", "fail", "inconclusive"]),
  reason: v.string(),
  measured_at: v.pipe(v.string(), v.isoTimestamp()),
  evidence_id: v.optional(v.string()),
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
  "execution.measured": { aggregate: "execution", version: 1, schema: ExecutionMeasuredSchema },
  "execution.rollback_started": { aggregate: "execution", version: 1, schema: ExecutionRollbackSchema },
  "execution.rolled_back": { aggregate: "execution", version: 1, schema: ExecutionRollbackSchema },
  "execution.succeeded": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
  "execution.failed": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
  "execution.cancelled": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
} as const;

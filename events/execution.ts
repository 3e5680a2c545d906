/** Execution aggregate: one run of an approved plan revision, driven by a Temporal workflow. */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

const revision = v.pipe(v.number(), v.integer(), v.minValue(1));

/**
 * Who started an execution when no person did: policy, which allowed every step of the revision
 * without approval (stage 2's low-risk writes). `decision_revision` is the policy revision of that
 * `policy.decided`. Absent: a person asked for it (the event's actor).
 */
export const StartedBySchema = v.object({
  kind: v.literal("policy"),
  decision_revision: v.string(),
});

/** The Temporal workflow types an execution runs as (services/orchestrator/workflows/kinds.ts). */
export const WorkflowTypeSchema = v.picklist([
  "GitOpsDeployWorkflow",
  "HelmReleaseWorkflow",
  "ScaleServiceWorkflow",
  "IncidentRemediationWorkflow",
  "SecretRotationWorkflow",
]);
export type WorkflowType = v.InferOutput<typeof WorkflowTypeSchema>;

export const ExecutionRequestedSchema = v.object({
  execution_id: IdSchema,
  plan_id: IdSchema,
  revision,
  dry_run: v.optional(v.boolean(), false),
  started_by: v.optional(StartedBySchema),
  /** The workflow type that runs the revision, as the plan decided it; absent on requests recorded before it was. */
  workflow_type: v.optional(WorkflowTypeSchema),
});

/**
 * Someone asked a running execution to stop (`POST /v1/executions/{id}:cancel`); the orchestrator
 * signals its workflow, which stops before its next step and records `execution.cancelled`.
 */
export const ExecutionCancelRequestedSchema = v.object({
  execution_id: IdSchema,
  reason: v.pipe(v.string(), v.minLength(1), v.maxLength(2000)),
  requested_by: v.pipe(v.string(), v.minLength(1)),
});

/**
 * A step's verification analysis stayed inconclusive past its limit and the plan says
 * `on_inconclusive: "pause"`: the workflow waits for a person's verdict on `check` (its
 * description) until `deadline`, then fails it. `reason` says why it is inconclusive (its last
 * measurement); `attempts` counts the measurements made. At most one per step (a step has one
 * analysis), so the step names the pause.
 */
export const ExecutionPausedSchema = v.object({
  execution_id: IdSchema,
  step_id: v.string(),
  check: v.string(),
  reason: v.string(),
  attempts: v.pipe(v.number(), v.integer(), v.minValue(0)),
  deadline: v.pipe(v.string(), v.isoTimestamp()),
});

/**
 * A person's verdict on the paused analysis of `step_id` (`POST /v1/executions/{id}:verdict`):
 * `pass` lets verification go on, `fail` fails it and the change is rolled back. The orchestrator
 * relays it to the workflow's `verdict` signal; the outcome is recorded on `execution.verified` or
 * `execution.verification_failed`.
 */
export const ExecutionVerdictRequestedSchema = v.object({
  execution_id: IdSchema,
  step_id: v.string(),
  decision: v.picklist(["pass", "fail"]),
  reason: v.pipe(v.string(), v.minLength(1), v.maxLength(2000)),
  requested_by: v.pipe(v.string(), v.minLength(1)),
});

export const ExecutionStartedSchema = v.object({
  execution_id: IdSchema,
  plan_id: IdSchema,
  workflow_id: v.string(),
  run_id: v.optional(v.string()),
  /** Absent on executions run by the generic `executePlan` (before the five types existed). */
  workflow_type: v.optional(WorkflowTypeSchema),
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

/** The outside services an execution tells about itself (services/orchestrator/activities/integrations). */
export const NotificationChannelSchema = v.picklist(["grafana", "pagerduty", "linear", "github"]);
export type NotificationChannel = v.InferOutput<typeof NotificationChannelSchema>;

/**
 * An execution told an outside service about itself: a Grafana annotation at its start or end, a
 * PagerDuty incident, a Linear follow-up issue, a pull request. One per execution, channel and
 * `phase` (its event id is derived from the three), so a retried activity finds it and reuses `ref`
 * instead of making a second one.
 */
export const ExecutionNotifiedSchema = v.object({
  execution_id: IdSchema,
  channel: NotificationChannelSchema,
  /** What the notice is for: `start`/`end` (Grafana), `incident` (PagerDuty), `follow_up` (Linear), a step id (GitHub). */
  phase: v.pipe(v.string(), v.minLength(1)),
  /** The annotation id, the dedup key, the issue id, the pull request's URL. */
  ref: v.pipe(v.string(), v.minLength(1)),
  /** Where a person sees it, when the service gives an address (the issue, the pull request). */
  url: v.optional(v.string()),
  detail: v.string(),
});

export const executionEvents = {
  "execution.requested": { aggregate: "execution", version: 1, schema: ExecutionRequestedSchema },
  "execution.cancel_requested": { aggregate: "execution", version: 1, schema: ExecutionCancelRequestedSchema },
  "execution.started": { aggregate: "execution", version: 1, schema: ExecutionStartedSchema },
  "execution.step_started": { aggregate: "execution", version: 1, schema: ExecutionStepSchema },
  "execution.step_completed": { aggregate: "execution", version: 1, schema: ExecutionStepSchema },
  "execution.verified": { aggregate: "execution", version: 1, schema: ExecutionVerificationSchema },
  "execution.verification_failed": { aggregate: "execution", version: 1, schema: ExecutionVerificationSchema },
  "execution.measured": { aggregate: "execution", version: 1, schema: ExecutionMeasuredSchema },
  "execution.paused": { aggregate: "execution", version: 1, schema: ExecutionPausedSchema },
  "execution.verdict_requested": { aggregate: "execution", version: 1, schema: ExecutionVerdictRequestedSchema },
  "execution.rollback_started": { aggregate: "execution", version: 1, schema: ExecutionRollbackSchema },
  "execution.rolled_back": { aggregate: "execution", version: 1, schema: ExecutionRollbackSchema },
  "execution.succeeded": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
  "execution.failed": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
  "execution.cancelled": { aggregate: "execution", version: 1, schema: ExecutionFinishedSchema },
  "execution.notified": { aggregate: "execution", version: 1, schema: ExecutionNotifiedSchema },
} as const;

/** Plan aggregate: a request in plain words and the typed plan proposed for it. */
import * as v from "valibot";
import { PlanDigestSchema } from "./approval.ts";
import { IdSchema } from "./envelope.ts";

export const PlanSourceSchema = v.picklist(["api", "slack", "alert", "webhook", "cli"]);

export const StepTargetSchema = v.object({
  environment: v.pipe(v.string(), v.minLength(1)),
  service: v.optional(v.string()),
  namespace: v.optional(v.string()),
  cluster: v.optional(v.string()),
  account: v.optional(v.string()),
});

const count = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

/**
 * A step's verification as analysis (lib/verification): what to measure, how to judge each
 * measurement, how often and how many times. Unset numbers take lib/verification's defaults
 * (measured once, right away, no failure or inconclusive allowed, inconclusive fails); they are
 * not filled in here, so a revision reads back exactly as it was proposed and digested.
 *
 * - `prometheus`: `query` is a PromQL instant query answering one sample (a scalar, or a vector
 *   of one series: aggregate it).
 * - `tempo`: `query` is TraceQL for Tempo's search (`q`), or empty with `tempo.tags` (logfmt);
 *   the value is the number of traces found in the last `tempo.window_seconds`, or the slowest
 *   one's duration (`tempo.measure`).
 * - `kubectl`: the verification's own read (`action_id`/`input`, any read action of the catalog)
 *   is run each time; `query` names the value in its JSON output (`.status.readyReplicas ?? 0`),
 *   or is empty to measure the read's success (1 or 0).
 *
 * Conditions are comparisons of `result` (`result < 0.05`, `result == input.replicas`, where
 * `input.<field>` is the step's own input: that is how `expected_effect` is compared with the live
 * read). Plan checks refuse a condition, query or path that cannot be read. An empty answer, NaN
 * or a failed query is inconclusive, never a pass; past `inconclusive_limit` the analysis fails or,
 * with `on_inconclusive: "pause"`, waits up to `pause_timeout_seconds` for a person's verdict.
 */
export const VerificationAnalysisSchema = v.object({
  provider: v.picklist(["prometheus", "tempo", "kubectl"]),
  query: v.pipe(v.string(), v.maxLength(2000)),
  success_condition: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  failure_condition: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  initial_delay_seconds: v.optional(count(0, 3600)),
  interval_seconds: v.optional(count(1, 3600)),
  count: v.optional(count(1, 100)),
  failure_limit: v.optional(count(0, 100)),
  inconclusive_limit: v.optional(count(0, 100)),
  on_inconclusive: v.optional(v.picklist(["fail", "pause"])),
  pause_timeout_seconds: v.optional(count(60, 86_400)),
  tempo: v.optional(
    v.object({
      tags: v.optional(v.pipe(v.string(), v.maxLength(1000))),
      window_seconds: v.optional(count(10, 86_400)),
      limit: v.optional(count(1, 1000)),
      measure: v.optional(v.picklist(["count", "max_duration_ms"])),
    }),
  ),
});
export type VerificationAnalysis = v.InferOutput<typeof VerificationAnalysisSchema>;

/**
 * How a write step is checked. `action_id`/`input`: a read action (its success is checked, or, with
 * a `kubectl` analysis, its output measured). `analysis`: verification as analysis (above); with a
 * read and a prometheus/tempo analysis, the read runs first, then the analysis. `promql` is what
 * plans carried before analyses existed: alone it cannot be judged and verification is inconclusive.
 */
export const StepVerificationSchema = v.object({
  description: v.string(),
  action_id: v.optional(v.string()),
  input: v.optional(v.record(v.string(), v.unknown())),
  promql: v.optional(v.string()),
  analysis: v.optional(VerificationAnalysisSchema),
});
export type StepVerification = v.InferOutput<typeof StepVerificationSchema>;

/** One tool call the plan proposes. `input` is valid against the catalog's schema for `action_id`. */
export const PlanStepSchema = v.object({
  step_id: v.pipe(v.string(), v.regex(/^[a-z0-9_-]{1,32}$/)),
  action_id: v.pipe(v.string(), v.regex(/^[a-z0-9_]+\.[a-z0-9_]+$/)),
  input: v.record(v.string(), v.unknown()),
  target: StepTargetSchema,
  rationale: v.string(),
  expected_effect: v.optional(v.string()),
  verification: v.optional(StepVerificationSchema),
  rollback: v.optional(v.nullable(v.object({ action_id: v.string(), input: v.record(v.string(), v.unknown()) }))),
});
export type PlanStep = v.InferOutput<typeof PlanStepSchema>;

export const PlannerInfoSchema = v.object({
  kind: v.picklist(["template", "llm"]),
  provider: v.optional(v.string()),
  model: v.optional(v.string()),
});

/** `plan.requested` v2. v1 (see plan.v1.ts) carried `text` and no `source`. */
export const PlanRequestedSchema = v.object({
  plan_id: IdSchema,
  intent: v.pipe(v.string(), v.minLength(1), v.maxLength(4000)),
  source: PlanSourceSchema,
  environment: v.optional(v.string()),
  service: v.optional(v.string()),
  signal_id: v.optional(v.string()),
});

/**
 * The context snapshot a revision was made from (lib/planner/snapshot.ts): the digest of the service
 * nodes and edges the planner read, how many, the scope read, and the evidence holding them. Policy
 * compares it with the graph it reads; `explain` shows it.
 */
export const PlanContextRefSchema = v.object({
  digest: v.pipe(v.string(), v.regex(/^[a-f0-9]{64}$/)),
  scope: v.object({ environment: v.optional(v.string()) }),
  nodes: v.pipe(v.number(), v.integer(), v.minValue(0)),
  edges: v.pipe(v.number(), v.integer(), v.minValue(0)),
  evidence_id: v.optional(v.string()),
  /** Where the graph was read (the read model and its last update). */
  ref: v.optional(v.string()),
});
export type PlanContextRef = v.InferOutput<typeof PlanContextRefSchema>;

export const PlanProposedSchema = v.object({
  plan_id: IdSchema,
  revision: v.pipe(v.number(), v.integer(), v.minValue(1)),
  summary: v.string(),
  steps: v.array(PlanStepSchema),
  planner: PlannerInfoSchema,
  /** Prompt and model answer as stored evidence (redacted), for the audit trail. */
  evidence_ids: v.optional(v.array(v.string()), []),
  /**
   * `planRevisionDigest(steps)` (lib/domain/digest.ts): what approvals bind to. Optional so that
   * revisions proposed before it existed still read; readers derive it from `steps` when absent
   * (`revisionDigest` in lib/domain), and the decider refuses a revision whose recorded digest
   * is not its steps' digest.
   */
  digest: v.optional(PlanDigestSchema),
  /** The context snapshot the revision was made from; absent on revisions proposed before it was recorded. */
  context: v.optional(PlanContextRefSchema),
});

export const PlanFailedSchema = v.object({
  plan_id: IdSchema,
  reasons: v.array(v.string()),
  planner: v.optional(PlannerInfoSchema),
});

/**
 * The orchestrator's authorisation of one write, appended on the plan guarded by the plan's version
 * it re-checked the approval at (lib/domain `AuthorizeWrite`): a withdrawal or a new revision recorded
 * in between refuses the append, so no write runs on an approval that no longer holds. It changes
 * nothing in the plan's state; it is the point at which the write was allowed.
 */
export const PlanWriteAuthorizedSchema = v.object({
  plan_id: IdSchema,
  revision: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** The revision's digest the approvals were counted for. */
  digest: PlanDigestSchema,
  execution_id: IdSchema,
  step_id: v.string(),
  tool_call_id: IdSchema,
  action_id: v.string(),
});

export const planEvents = {
  "plan.requested": { aggregate: "plan", version: 2, schema: PlanRequestedSchema },
  "plan.proposed": { aggregate: "plan", version: 1, schema: PlanProposedSchema },
  "plan.failed": { aggregate: "plan", version: 1, schema: PlanFailedSchema },
  "plan.write_authorized": { aggregate: "plan", version: 1, schema: PlanWriteAuthorizedSchema },
} as const;

/**
 * What the execution workflows and their activities exchange: the inputs and
 * results of each activity, and the activities' types as the workflows
 * schedule them. Plain data (Temporal serialises it as JSON); the workflows
 * import these as types only. It sits below both workflows/ and activities/
 * (contract/), so neither imports the other.
 */
import type { EventPayload, PlanStep } from "../../events/index.ts";
import type { Selected } from "../verification/index.ts";

/** Execution events the workflow records through `recordEvent`. */
export type ExecutionEventType =
  | "execution.started"
  | "execution.step_started"
  | "execution.step_completed"
  | "execution.verified"
  | "execution.verification_failed"
  | "execution.measured"
  | "execution.paused"
  | "execution.rollback_started"
  | "execution.rolled_back"
  | "execution.succeeded"
  | "execution.failed"
  | "execution.cancelled";

export type ExecutionEventDraft = {
  [K in ExecutionEventType]: { readonly type: K; readonly payload: EventPayload<K> };
}[ExecutionEventType];

export interface RecordEventInput {
  readonly event: ExecutionEventDraft;
  readonly correlation_id: string;
  readonly causation_id: string;
}

/** A plan step as the workflow runs it: the plan's step plus what the catalog and policy say about it. */
export interface PlannedStep {
  readonly step_id: string;
  readonly action_id: string;
  readonly input: Record<string, unknown>;
  /** From the catalog; an action the catalog does not know counts as a write (it needs approval). */
  readonly kind: "read" | "write";
  readonly dry_run_supported: boolean;
  /** Policy asked for a dry run before the write (`constraints.dry_run_first`). */
  readonly dry_run_first: boolean;
  readonly verification?: PlanStep["verification"];
  readonly rollback?: { readonly action_id: string; readonly input: Record<string, unknown> } | null | undefined;
}

/** One plan revision, as `loadPlan` and every tool call name it. */
export interface PlanRevisionRef {
  readonly plan_id: string;
  readonly revision: number;
}

export interface ApprovalCheckInput extends PlanRevisionRef {
  readonly step_id: string;
  readonly execution_id: string;
}

export interface RunToolInput {
  readonly execution_id: string;
  readonly step_id: string;
  readonly tool_call_id: string;
  readonly action_id: string;
  readonly input: Record<string, unknown>;
  readonly dry_run: boolean;
  /** Verification calls must be read actions; the activity refuses anything else. */
  readonly purpose: "step" | "dry_run" | "verification" | "rollback";
  /**
   * The plan revision the call belongs to: the call must be what that revision names for `step_id` and
   * `purpose`, or no capability is minted. Optional only for inputs recorded before it existed (then
   * `approval` names the revision).
   */
  readonly plan?: PlanRevisionRef | undefined;
  /** When set, the approval is re-checked right before the call (a write step is re-checked regardless). */
  readonly approval?: ApprovalCheckInput | undefined;
  /**
   * A verification read measured by a `kubectl` analysis: the path of the value in the read's JSON
   * output (lib/verification select.ts), answered as `selected`. Not part of the call itself.
   */
  readonly select?: string | undefined;
}

/** What the workflow keeps of a tool call (the full output is evidence, recorded by the router). */
export interface ToolRunSummary {
  readonly tool_call_id: string;
  readonly ok: boolean;
  readonly status: "succeeded" | "failed" | "timed_out" | "refused";
  readonly exit_code: number | null;
  /** The end of stderr (on failure) or stdout, at most 500 characters. */
  readonly detail: string;
  readonly evidence_id: string | null;
  /** True when an earlier attempt had already made the call and its recorded result was reused. */
  readonly reused: boolean;
  /** The value at the input's `select` path of the output (absent without one, or when the call was reused). */
  readonly selected?: Selected | undefined;
}

/** One measurement the verification query activities (Prometheus, Tempo) are asked for. */
export interface MeasureInput {
  readonly execution_id: string;
  readonly step_id: string;
  /** 1-based, within the step's analysis: names the measurement in its evidence. */
  readonly attempt: number;
  /** PromQL, or TraceQL (empty for a tag search). */
  readonly query: string;
  readonly correlation_id?: string | undefined;
}

export interface TempoMeasureInput extends MeasureInput {
  /** Tag search in logfmt, or null. */
  readonly tags: string | null;
  /** The search covers this many seconds up to now. */
  readonly window_seconds: number;
  readonly limit: number;
  readonly measure: "count" | "max_duration_ms";
}

/** One measurement: a finite number, or null with the reason there is none. */
export interface MeasurementResult {
  readonly value: number | null;
  readonly detail: string;
  /** When the provider was asked (ISO). */
  readonly measured_at: string;
  readonly evidence_id: string | null;
}

/** The Prometheus verification activity (activities/prometheus.ts). */
export interface PrometheusActivities {
  /** One instant query, its answer kept as evidence; the value, or null with the reason. */
  readonly QueryPrometheusActivity: (input: MeasureInput) => Promise<MeasurementResult>;
}

/** The Tempo verification activity (activities/tempo.ts). */
export interface TempoActivities {
  /** One trace search, its answer kept as evidence; the value, or null with the reason. */
  readonly QueryTempoActivity: (input: TempoMeasureInput) => Promise<MeasurementResult>;
}

/** The plumbing every execution worker registers (activities.ts): the plan, the approval re-check, events, tool calls. */
export interface CoreActivities {
  /** The steps of one plan revision, with catalog kind and policy constraints. */
  readonly loadPlan: (input: PlanRevisionRef) => Promise<PlannedStep[]>;
  /** Re-checks, at this moment, that the plan revision may still run. */
  readonly checkApproval: (input: ApprovalCheckInput) => Promise<void>;
  /** One call through the tool router, exactly once. */
  readonly runTool: (input: RunToolInput) => Promise<ToolRunSummary>;
  /** Appends one execution event, exactly once per execution, step and type. */
  readonly recordEvent: (input: RecordEventInput) => Promise<{ seq: number; duplicate: boolean }>;
}

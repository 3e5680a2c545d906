/**
 * The `executePlan` workflow's contract with its starters and observers: its
 * input and result, the `cancel` signal and the `status` query (one input
 * type each), and the activity failure types it never retries.
 */
import { defineQuery, defineSignal } from "@temporalio/workflow";

/** What the orchestrator passes when it starts an execution (from `execution.requested`). */
export interface ExecutePlanInput {
  readonly execution_id: string;
  readonly plan_id: string;
  readonly revision: number;
  /** Run every write as a dry run only (no change, no verification, no rollback). */
  readonly dry_run: boolean;
  /** Carried into every event this execution appends. */
  readonly correlation_id: string;
  /** The `execution.requested` event's id. */
  readonly causation_id: string;
  /** How long verification may keep re-reading before it counts as failed. */
  readonly verification_timeout_ms: number;
  /** Upper bound of one tool call (the tool router's own timeout); activities get a margin on top. */
  readonly tool_timeout_ms: number;
}

/** The `cancel` signal's input: who asked and why. The workflow stops before its next step. */
export interface CancelRequest {
  readonly reason: string;
  readonly requested_by?: string | undefined;
}

export type ExecutionPhase =
  | "starting"
  | "running"
  | "verifying"
  | "rolling_back"
  | "succeeded"
  | "failed"
  | "cancelled";

/** What the `status` query answers. */
export interface ExecutionStatus {
  readonly execution_id: string;
  readonly phase: ExecutionPhase;
  readonly current_step: string | null;
  readonly completed_steps: readonly string[];
  readonly cancel_requested: boolean;
  readonly reason: string | null;
}

/** The workflow's result. A failed execution is a successful workflow: the failure is a recorded fact. */
export interface ExecutionOutcome {
  readonly status: "succeeded" | "failed" | "cancelled";
  readonly reason: string | null;
  readonly completed_steps: readonly string[];
  readonly rolled_back_steps: readonly string[];
}

/** Asks a running execution to stop before its next step; it then appends `execution.cancelled`. */
export const cancelSignal = defineSignal<[CancelRequest]>("cancel");
/** The execution's phase and progress, answered from workflow state (no I/O). */
export const statusQuery = defineQuery<ExecutionStatus>("status");

/** Error types activities throw for business rejections; never retried. */
export const NON_RETRYABLE_TYPES = ["ApprovalRefused", "PlanNotFound", "ToolCallRefused", "InvalidEvent"] as const;

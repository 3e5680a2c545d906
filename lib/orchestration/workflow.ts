/**
 * The execution workflows' contract with their starters, observers and
 * activities: the input and result every type shares (the five of kinds.ts
 * and the generic `executePlan`), the `cancel` signal and the `status` query
 * (one input type each), the activity failure types never retried, which
 * named activity runs which catalog action, and the integration activities'
 * inputs and results.
 */
import { defineQuery, defineSignal } from "@temporalio/workflow";
import type { RunToolInput, ToolRunSummary } from "./activities.ts";

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
  /**
   * The worker registers the integration activities (Grafana, PagerDuty, Linear): the starter sets it from
   * the activities it hands its worker. Absent (histories started before them): the execution notifies nothing.
   */
  readonly integrations?: boolean | undefined;
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
  /** Verification waits for a person's `verdict` on an inconclusive analysis (`on_inconclusive: "pause"`). */
  | "paused"
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

/**
 * The named tool activities and the one catalog action each runs (through the tool router, as `runTool`
 * does). A step, dry run, verification read or rollback calling one of these actions is scheduled as its
 * named activity, with its own retry policy; every other action as `runTool`.
 */
export const TOOL_ACTIVITY_ACTIONS = {
  ArgoSyncActivity: "argocd.app_sync",
  ArgoWaitActivity: "argocd.app_wait",
  HelmStatusActivity: "helm.status",
  HelmUpgradeActivity: "helm.upgrade",
  HelmRollbackActivity: "helm.rollback",
  KubectlScaleActivity: "kubectl.scale",
  KubectlRolloutStatusActivity: "kubectl.rollout_status",
} as const;
export type ToolActivityType = keyof typeof TOOL_ACTIVITY_ACTIONS;

/** `runTool` under the name of the one catalog action each runs (activities/tool-activities.ts). */
export type ToolActivities = { [K in ToolActivityType]: (input: RunToolInput) => Promise<ToolRunSummary> };

/** The named activity for a catalog action, or null when `runTool` runs it. */
export function toolActivityFor(actionId: string): ToolActivityType | null {
  for (const [type, action] of Object.entries(TOOL_ACTIVITY_ACTIONS)) {
    if (action === actionId) return type as ToolActivityType;
  }
  return null;
}

/** What every integration activity carries to record its `execution.notified` event. */
interface NotificationMeta {
  readonly execution_id: string;
  readonly plan_id: string;
  readonly correlation_id: string;
  readonly causation_id: string;
}

export interface GrafanaAnnotationInput extends NotificationMeta {
  readonly phase: "start" | "end";
  readonly text: string;
  readonly tags: string[];
}
export interface PagerDutyIncidentInput extends NotificationMeta {
  readonly summary: string;
  readonly severity: "critical" | "error" | "warning";
}
export interface LinearIssueInput extends NotificationMeta {
  readonly title: string;
  readonly description: string;
}
/**
 * A plan step's `git.pull_request` (schemas/tools/git.json), which the engine runs through
 * `CreateGitPullRequestActivity` rather than the tool router: the activity authorises it as the write
 * of `revision`'s step (its input must be the step's), then pushes the branch and opens the pull request.
 */
export const GIT_PULL_REQUEST_ACTION = "git.pull_request";

export interface GitPullRequestInput extends NotificationMeta {
  /** The plan revision whose step this is: the write is authorised against it before anything is pushed. */
  readonly revision: number;
  readonly step_id: string;
  readonly repo: string;
  readonly base: string;
  readonly branch: string;
  readonly title: string;
  readonly body: string;
  readonly files: { readonly path: string; readonly content: string }[];
}

/**
 * The integration activities as the engine calls them. Each returns null fields when its connector is
 * not configured, and is idempotent: a retried attempt creates no second annotation, incident or issue.
 */
export interface IntegrationActivities {
  CreateGrafanaAnnotationActivity(input: GrafanaAnnotationInput): Promise<{ annotation_id: number | null }>;
  CreatePagerDutyIncidentActivity(input: PagerDutyIncidentInput): Promise<{ dedup_key: string | null }>;
  CreateLinearIssueActivity(input: LinearIssueInput): Promise<{ issue_id: string | null; url: string | null }>;
  CreateGitPullRequestActivity(input: GitPullRequestInput): Promise<{ url: string | null; number: number | null }>;
}

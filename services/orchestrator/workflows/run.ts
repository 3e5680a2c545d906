/**
 * What every part of one execution run shares: its input and workflow type,
 * one activity proxy per activity type (each with its row of the retry-policy
 * table), the metadata every event carries, and the progress the `status`
 * query answers from. Workflow code: no Node built-ins, activities as types.
 */
import {
  ActivityFailure,
  type ActivityInterfaceFor,
  patched,
  proxyActivities,
  proxyLocalActivities,
} from "@temporalio/workflow";
import type { WorkflowType } from "../../../events/index.ts";
import type {
  CoreActivities,
  PlanRevisionRef,
  PrometheusActivities,
  RunToolInput,
  TempoActivities,
  ToolRunSummary,
} from "../../../lib/orchestration/activities.ts";
import {
  type ExecutePlanInput,
  type ExecutionPhase,
  type IntegrationActivities,
  type ToolActivities,
  toolActivityFor,
} from "../../../lib/orchestration/workflow.ts";
import { activityOptions, RETRY_POLICIES } from "./retry-policies.ts";

/**
 * Every activity the workflows schedule, each proxied with its own retry policy and timeouts. The
 * integration activities are typed from the contract: whether the worker has them is `input.integrations`.
 */
export type ExecutionActivities = ActivityInterfaceFor<
  CoreActivities & ToolActivities & PrometheusActivities & TempoActivities & IntegrationActivities
>;

export interface ExecutionRun {
  readonly input: ExecutePlanInput;
  readonly exec: string;
  /** The type this run was started as; null for the generic `executePlan`. */
  readonly workflowType: WorkflowType | null;
  /** Every tool call names its plan revision: the activity checks the call against it before it may run. */
  readonly plan: PlanRevisionRef;
  /** Carried into every event the run appends. */
  readonly meta: { readonly correlation_id: string; readonly causation_id: string };
  /** One proxy per activity type, its options from RETRY_POLICIES. */
  readonly activities: ExecutionActivities;
  /** What the `status` query reports; each part of the run moves it along. */
  readonly progress: { phase: ExecutionPhase; current_step: string | null };
}

/**
 * The marker of runs whose bookkeeping activities (the rows marked `local`) run as local activities.
 * Histories recorded before it scheduled them on the task queue; replaying one, `patched` answers
 * false and the run schedules them as it did then. Once no such history can be running or replayed
 * (docs/architecture.md, Orchestrator), this becomes `deprecatePatch` and then goes.
 */
export const LOCAL_BOOKKEEPING_PATCH = "bookkeeping-as-local-activities";

/**
 * The marker of runs that record `execution.started` while they read the plan (engine.ts), instead of
 * first one, then the other. Histories from before replay the old order; retired as the one above.
 */
export const STARTED_BESIDE_PLAN_PATCH = "started-beside-plan-read";

export function startRun(input: ExecutePlanInput, workflowType: WorkflowType | null): ExecutionRun {
  return {
    input,
    exec: input.execution_id,
    workflowType,
    plan: { plan_id: input.plan_id, revision: input.revision },
    meta: { correlation_id: input.correlation_id, causation_id: input.causation_id },
    activities: activities(input, patched(LOCAL_BOOKKEEPING_PATCH)),
    progress: { phase: "starting", current_step: null },
  };
}

/**
 * One proxy per row of RETRY_POLICIES, for a run whose tool calls may take `input.tool_timeout_ms`;
 * the rows that run `local` as local activities when `local` is true (else all on the task queue).
 */
export function activities(input: Pick<ExecutePlanInput, "tool_timeout_ms">, local: boolean): ExecutionActivities {
  const proxies: Record<string, unknown> = {};
  for (const [type, policy] of Object.entries(RETRY_POLICIES)) {
    const options = activityOptions(policy, input.tool_timeout_ms);
    proxies[type] =
      local && policy.runs === "local" ? proxyLocalActivities(options)[type] : proxyActivities(options)[type];
  }
  return proxies as ExecutionActivities;
}

/**
 * One tool call as its activity: the named activity of its catalog action (ArgoSyncActivity,
 * KubectlScaleActivity, …) or `runTool` for every other action. The generic `executePlan` schedules
 * every call as `runTool`, as its running histories did.
 */
export function callTool(run: ExecutionRun, call: RunToolInput): Promise<ToolRunSummary> {
  const named = run.workflowType === null ? null : toolActivityFor(call.action_id);
  return named === null ? run.activities.runTool(call) : run.activities[named](call);
}

/** The business reason behind an activity failure (its ApplicationFailure's message). */
export function reasonOf(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause) return error.cause.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * What every part of one `executePlan` run shares: its input, the activity
 * proxies, the metadata every event carries, and the progress the `status`
 * query answers from. Workflow code: no Node built-ins, activities as types.
 */
import { ActivityFailure, type ActivityInterfaceFor, proxyActivities } from "@temporalio/workflow";
import type { PlanRevisionRef } from "../activities/contract.ts";
import type { Activities } from "../activities.ts";
import { type ExecutePlanInput, type ExecutionPhase, NON_RETRYABLE_TYPES } from "./contract.ts";

export interface ExecutionRun {
  readonly input: ExecutePlanInput;
  readonly exec: string;
  /** Every tool call names its plan revision: the activity checks the call against it before it may run. */
  readonly plan: PlanRevisionRef;
  /** Carried into every event the run appends. */
  readonly meta: { readonly correlation_id: string; readonly causation_id: string };
  /** Appends and reads: retried until they land. */
  readonly record: ActivityInterfaceFor<Activities>;
  /** Tool calls: long, heartbeating, a bounded number of attempts. */
  readonly tools: ActivityInterfaceFor<Activities>;
  /** What the `status` query reports; each part of the run moves it along. */
  readonly progress: { phase: ExecutionPhase; current_step: string | null };
}

export function startRun(input: ExecutePlanInput): ExecutionRun {
  return {
    input,
    exec: input.execution_id,
    plan: { plan_id: input.plan_id, revision: input.revision },
    meta: { correlation_id: input.correlation_id, causation_id: input.causation_id },
    // Appends and reads must land: keep retrying transient failures (NATS away) with a capped backoff.
    record: proxyActivities<Activities>({
      startToCloseTimeout: "30s",
      retry: {
        initialInterval: "200ms",
        backoffCoefficient: 2,
        maximumInterval: "30s",
        nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES],
      },
    }),
    // Tool calls may run long: a heartbeat shows the attempt is alive, so a dead worker's attempt is retried quickly.
    tools: proxyActivities<Activities>({
      startToCloseTimeout: input.tool_timeout_ms + 60_000,
      heartbeatTimeout: "30s",
      retry: {
        initialInterval: "1s",
        backoffCoefficient: 2,
        maximumInterval: "30s",
        maximumAttempts: 5,
        nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES],
      },
    }),
    progress: { phase: "starting", current_step: null },
  };
}

/** The business reason behind an activity failure (its ApplicationFailure's message). */
export function reasonOf(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause) return error.cause.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

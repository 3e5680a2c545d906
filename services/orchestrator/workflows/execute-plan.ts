/**
 * The generic `executePlan` workflow, kept for the executions started as it
 * before the five workflow types existed (their histories replay against
 * it): the shared engine, every tool call as `runTool`, no notifications.
 * New executions start as one of the types in kinds.ts.
 */
import type { ExecutePlanInput, ExecutionOutcome } from "../../../lib/orchestration/workflow.ts";
import { runExecution } from "./engine.ts";

export {
  type CancelRequest,
  cancelSignal,
  type ExecutePlanInput,
  type ExecutionOutcome,
  type ExecutionPhase,
  type ExecutionStatus,
  NON_RETRYABLE_TYPES,
  statusQuery,
} from "../../../lib/orchestration/workflow.ts";

export function executePlan(input: ExecutePlanInput): Promise<ExecutionOutcome> {
  return runExecution(input, null);
}

/**
 * The `executePlan` workflow: one run of an approved plan revision. Its
 * workflow id is the execution id, so a redelivered `execution.requested`
 * cannot start it twice.
 *
 * The workflow holds the order of things (approval re-check, dry run, the
 * write, verification, rollback) and nothing else: every fact is appended by
 * an activity with an idempotency key, every tool call goes through the tool
 * router. This file runs in Temporal's deterministic sandbox: activities are
 * imported as types only, and no Node built-in may be imported here.
 */
import { setHandler, workflowInfo } from "@temporalio/workflow";
import type { EventPayload } from "../../../events/index.ts";
import type { PlannedStep } from "../activities/contract.ts";
import {
  type CancelRequest,
  cancelSignal,
  type ExecutePlanInput,
  type ExecutionOutcome,
  statusQuery,
} from "./contract.ts";
import { rollback, withRollback } from "./rollback.ts";
import { reasonOf, startRun } from "./run.ts";
import { runStep } from "./step.ts";
import { verify } from "./verify.ts";

export {
  type CancelRequest,
  cancelSignal,
  type ExecutePlanInput,
  type ExecutionOutcome,
  type ExecutionPhase,
  type ExecutionStatus,
  NON_RETRYABLE_TYPES,
  statusQuery,
} from "./contract.ts";

export async function executePlan(input: ExecutePlanInput): Promise<ExecutionOutcome> {
  const run = startRun(input);
  const { exec, meta, record, progress } = run;
  let finalReason: string | null = null;
  let cancel: CancelRequest | null = null;
  const completed: string[] = [];

  setHandler(cancelSignal, (request) => {
    cancel ??= request;
  });
  setHandler(statusQuery, () => ({
    execution_id: exec,
    phase: progress.phase,
    current_step: progress.current_step,
    completed_steps: [...completed],
    cancel_requested: cancel !== null,
    reason: finalReason,
  }));

  const finish = async (
    status: ExecutionOutcome["status"],
    reason: string | null,
    rolledBack: readonly string[] = [],
  ): Promise<ExecutionOutcome> => {
    const type =
      status === "succeeded" ? "execution.succeeded" : status === "failed" ? "execution.failed" : "execution.cancelled";
    const payload: EventPayload<"execution.succeeded"> = {
      execution_id: exec,
      plan_id: input.plan_id,
      ...(reason === null ? {} : { reason }),
    };
    await record.recordEvent({ ...meta, event: { type, payload } });
    progress.phase = status;
    progress.current_step = null;
    finalReason = reason;
    return { status, reason, completed_steps: [...completed], rolled_back_steps: rolledBack };
  };

  const cancelledReason = () => {
    const c = cancel as CancelRequest | null;
    if (c === null) return "cancelled";
    return `cancelled${c.requested_by ? ` by ${c.requested_by}` : ""}: ${c.reason}`;
  };

  await record.recordEvent({
    ...meta,
    event: {
      type: "execution.started",
      payload: {
        execution_id: exec,
        plan_id: input.plan_id,
        workflow_id: workflowInfo().workflowId,
        run_id: workflowInfo().runId,
      },
    },
  });
  progress.phase = "running";

  let steps: PlannedStep[];
  try {
    steps = await record.loadPlan(run.plan);
  } catch (error) {
    return finish("failed", reasonOf(error));
  }

  const completedWrites: PlannedStep[] = [];
  for (const step of steps) {
    if (cancel !== null) return finish("cancelled", cancelledReason());
    progress.current_step = step.step_id;
    const outcome = await runStep(run, step);
    if (!outcome.ok) {
      const rolledBack = await rollback(run, completedWrites, outcome.reason);
      return finish("failed", withRollback(outcome.reason, rolledBack), rolledBack.rolled);
    }
    completed.push(step.step_id);
    if (step.kind === "write" && !input.dry_run) completedWrites.push(step);
  }
  progress.current_step = null;
  if (cancel !== null) return finish("cancelled", cancelledReason());
  if (input.dry_run) return finish("succeeded", "dry run: no change was made");

  const verification = await verify(run, steps);
  if (!verification.passed) {
    const rolledBack = await rollback(run, completedWrites, verification.reason);
    return finish("failed", withRollback(verification.reason, rolledBack), rolledBack.rolled);
  }
  return finish("succeeded", null);
}

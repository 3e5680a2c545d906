/**
 * The step engine every execution workflow runs (the five types of kinds.ts
 * and the generic `executePlan`): one run of an approved plan revision. It
 * holds the order of things and nothing else: the approval re-check before
 * every write, the dry run policy asks for, the write, verification after
 * the last step, rollback in reverse when a step or verification fails, and
 * the notifications around it (notify.ts). Every fact is appended by an
 * activity with an idempotency key, every tool call goes through the tool
 * router. Workflow code: activities as types only, no Node built-ins.
 */
import { patched, setHandler, workflowInfo } from "@temporalio/workflow";
import type { EventPayload, WorkflowType } from "../../../events/index.ts";
import type { PlannedStep } from "../../../lib/orchestration/activities.ts";
import {
  type CancelRequest,
  cancelSignal,
  type ExecutePlanInput,
  type ExecutionOutcome,
  statusQuery,
} from "../../../lib/orchestration/workflow.ts";
import { notifier } from "./notify.ts";
import { rollback, withRollback } from "./rollback.ts";
import { reasonOf, STARTED_BESIDE_PLAN_PATCH, startRun } from "./run.ts";
import { runStep } from "./step.ts";
import { verify } from "./verify.ts";

/**
 * Runs `input`'s plan revision as a `workflowType` workflow (null: the generic `executePlan`, which
 * schedules every tool call as `runTool` and notifies nothing, as its running histories did).
 */
export async function runExecution(
  input: ExecutePlanInput,
  workflowType: WorkflowType | null,
): Promise<ExecutionOutcome> {
  const run = startRun(input, workflowType);
  const { exec, meta, activities, progress } = run;
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

  const record = async (status: ExecutionOutcome["status"], reason: string | null, rolledBack: readonly string[]) => {
    const type =
      status === "succeeded" ? "execution.succeeded" : status === "failed" ? "execution.failed" : "execution.cancelled";
    const payload: EventPayload<"execution.succeeded"> = {
      execution_id: exec,
      plan_id: input.plan_id,
      ...(reason === null ? {} : { reason }),
    };
    await activities.recordEvent({ ...meta, event: { type, payload } });
    progress.phase = status;
    progress.current_step = null;
    finalReason = reason;
    return { status, reason, completed_steps: [...completed], rolled_back_steps: [...rolledBack] };
  };

  const cancelledReason = () => {
    const c = cancel as CancelRequest | null;
    if (c === null) return "cancelled";
    return `cancelled${c.requested_by ? ` by ${c.requested_by}` : ""}: ${c.reason}`;
  };

  const recordStarted = () =>
    activities.recordEvent({
      ...meta,
      event: {
        type: "execution.started",
        payload: {
          execution_id: exec,
          plan_id: input.plan_id,
          workflow_id: workflowInfo().workflowId,
          run_id: workflowInfo().runId,
          ...(workflowType === null ? {} : { workflow_type: workflowType }),
        },
      },
    });
  const loadPlan = () =>
    activities.loadPlan(run.plan).then(
      (steps) => ({ ok: true as const, steps }),
      (error: unknown) => ({ ok: false as const, reason: reasonOf(error) }),
    );

  // The start is recorded and the plan read side by side (both only read or append; the run's first
  // tool call waits on neither twice); histories recorded before did one after the other.
  let loaded: Awaited<ReturnType<typeof loadPlan>>;
  if (patched(STARTED_BESIDE_PLAN_PATCH)) {
    const plan = loadPlan();
    await recordStarted();
    progress.phase = "running";
    loaded = await plan;
  } else {
    await recordStarted();
    progress.phase = "running";
    loaded = await loadPlan();
  }
  if (!loaded.ok) return record("failed", loaded.reason, []);
  const steps: PlannedStep[] = loaded.steps;

  const notify = notifier(run, steps);
  /** The final event, after the end notifications; a notification that failed is added to the reason. */
  const finish = async (
    status: ExecutionOutcome["status"],
    reason: string | null,
    rolled: { readonly rolled: readonly string[]; readonly problems: readonly string[] } = { rolled: [], problems: [] },
    inconclusive = false,
  ): Promise<ExecutionOutcome> => {
    const problems = await notify.end({ status, reason, rollbackProblems: rolled.problems, inconclusive });
    const full = problems.length === 0 ? reason : [reason, ...problems].filter((p) => p !== null).join("; ");
    return record(status, full, rolled.rolled);
  };

  await notify.start();
  const completedWrites: PlannedStep[] = [];
  for (const step of steps) {
    if (cancel !== null) return finish("cancelled", cancelledReason());
    progress.current_step = step.step_id;
    const outcome = await runStep(run, step);
    if (!outcome.ok) {
      const rolledBack = await rollback(run, completedWrites, outcome.reason);
      return finish("failed", withRollback(outcome.reason, rolledBack), rolledBack);
    }
    completed.push(step.step_id);
    if (step.kind === "write" && !input.dry_run) completedWrites.push(step);
  }
  progress.current_step = null;
  if (cancel !== null) return finish("cancelled", cancelledReason());
  if (input.dry_run) return finish("succeeded", "dry run: no change was made");

  const verification = await verify(run, steps, () => cancel !== null);
  if (verification.cancelled) {
    return finish(
      "cancelled",
      `${cancelledReason()}; ${verification.reason}; the change stays as it was made (not rolled back)`,
    );
  }
  // Verification may report that its measurements never gave a verdict; a human is paged for that.
  const inconclusive = "inconclusive" in verification && verification.inconclusive === true;
  if (!verification.passed) {
    const rolledBack = await rollback(run, completedWrites, verification.reason);
    return finish("failed", withRollback(verification.reason, rolledBack), rolledBack, inconclusive);
  }
  return finish("succeeded", null, undefined, inconclusive);
}

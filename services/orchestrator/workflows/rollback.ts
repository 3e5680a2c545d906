/**
 * Rollback of the writes an execution completed, newest first, each through
 * its step's rollback call, between `execution.rollback_started` and
 * `execution.rolled_back`. Workflow code: no Node built-ins.
 */
import type { PlannedStep } from "../../../lib/orchestration/activities.ts";
import { callTool, type ExecutionRun, reasonOf } from "./run.ts";

export interface RollbackOutcome {
  readonly rolled: string[];
  readonly problems: string[];
}

export async function rollback(
  run: ExecutionRun,
  writes: readonly PlannedStep[],
  reason: string,
): Promise<RollbackOutcome> {
  if (writes.length === 0) return { rolled: [], problems: [] };
  run.progress.phase = "rolling_back";
  run.progress.current_step = null;
  const order = [...writes].reverse();
  await run.activities.recordEvent({
    ...run.meta,
    event: {
      type: "execution.rollback_started",
      payload: { execution_id: run.exec, reason, step_ids: order.map((s) => s.step_id) },
    },
  });
  const rolled: string[] = [];
  const problems: string[] = [];
  for (const step of order) {
    run.progress.current_step = step.step_id;
    if (!step.rollback) {
      problems.push(`${step.step_id} has no rollback`);
      continue;
    }
    try {
      // No approval re-check: undoing an approved change restores the state that held before it.
      const r = await callTool(run, {
        execution_id: run.exec,
        step_id: step.step_id,
        tool_call_id: `${run.exec}-${step.step_id}-rollback`,
        action_id: step.rollback.action_id,
        input: step.rollback.input,
        dry_run: false,
        purpose: "rollback",
        plan: run.plan,
      });
      if (r.ok) rolled.push(step.step_id);
      else problems.push(`${step.step_id} rollback ${r.status}: ${r.detail}`);
    } catch (error) {
      problems.push(`${step.step_id} rollback refused: ${reasonOf(error)}`);
    }
  }
  run.progress.current_step = null;
  const summary =
    problems.length === 0
      ? `rolled back ${rolled.join(", ")}`
      : `rolled back [${rolled.join(", ")}]; ${problems.join("; ")}`;
  await run.activities.recordEvent({
    ...run.meta,
    event: { type: "execution.rolled_back", payload: { execution_id: run.exec, reason: summary, step_ids: rolled } },
  });
  return { rolled, problems };
}

/** The failure's reason with what the rollback did (and could not do) appended. */
export function withRollback(reason: string, rollback: RollbackOutcome): string {
  if (rollback.rolled.length === 0 && rollback.problems.length === 0) return reason;
  const parts = [reason];
  if (rollback.rolled.length > 0) parts.push(`rolled back ${rollback.rolled.join(", ")}`);
  if (rollback.problems.length > 0) parts.push(rollback.problems.join("; "));
  return parts.join("; ");
}

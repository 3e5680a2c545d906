/**
 * One step of a plan: the approval re-check for a write, the dry run policy
 * asked for, the call itself (through the tool router, or a pull request
 * through its own activity: pull-request.ts), each recorded as
 * `execution.step_started` and `execution.step_completed`. Workflow code: no
 * Node built-ins.
 */
import type { PlannedStep, ToolRunSummary } from "../../../lib/orchestration/activities.ts";
import { GIT_PULL_REQUEST_ACTION } from "../../../lib/orchestration/workflow.ts";
import { openPullRequest } from "./pull-request.ts";
import { callTool, type ExecutionRun, reasonOf } from "./run.ts";

export type StepOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export async function runStep(run: ExecutionRun, step: PlannedStep): Promise<StepOutcome> {
  const toolCallId = `${run.exec}-${step.step_id}`;
  const approval = { ...run.plan, step_id: step.step_id, execution_id: run.exec };
  if (step.kind === "write") {
    try {
      await run.activities.checkApproval(approval);
    } catch (error) {
      return { ok: false, reason: `step ${step.step_id}: ${reasonOf(error)}` };
    }
  }
  const stepEvent = {
    execution_id: run.exec,
    step_id: step.step_id,
    action_id: step.action_id,
    tool_call_id: toolCallId,
  };
  await run.activities.recordEvent({
    ...run.meta,
    event: { type: "execution.step_started", payload: { ...stepEvent, status: "running" } },
  });
  const done = async (status: "succeeded" | "failed" | "skipped", detail: string): Promise<void> => {
    await run.activities.recordEvent({
      ...run.meta,
      event: { type: "execution.step_completed", payload: { ...stepEvent, status, ...(detail ? { detail } : {}) } },
    });
  };

  if (step.kind === "write" && run.input.dry_run && !step.dry_run_supported) {
    await done("skipped", `${step.action_id} has no dry-run form`);
    return { ok: true };
  }
  if (step.kind === "write" && !run.input.dry_run && step.dry_run_first && step.dry_run_supported) {
    let preview: ToolRunSummary;
    try {
      preview = await callTool(run, {
        execution_id: run.exec,
        step_id: step.step_id,
        tool_call_id: `${toolCallId}-dry-run`,
        action_id: step.action_id,
        input: step.input,
        dry_run: true,
        purpose: "dry_run",
        plan: run.plan,
      });
    } catch (error) {
      const reason = `step ${step.step_id} dry run: ${reasonOf(error)}`;
      await done("failed", reason);
      return { ok: false, reason };
    }
    if (!preview.ok) {
      const reason = `step ${step.step_id} dry run ${preview.status}: ${preview.detail}`;
      await done("failed", reason);
      return { ok: false, reason };
    }
  }

  let result: ToolRunSummary;
  try {
    result =
      step.action_id === GIT_PULL_REQUEST_ACTION
        ? await openPullRequest(run, step, toolCallId)
        : await callTool(run, {
            execution_id: run.exec,
            step_id: step.step_id,
            tool_call_id: toolCallId,
            action_id: step.action_id,
            input: step.input,
            dry_run: run.input.dry_run,
            purpose: "step",
            plan: run.plan,
            // Checked again right before the call: an approval withdrawn during a dry run still stops the write.
            ...(step.kind === "write" ? { approval } : {}),
          });
  } catch (error) {
    const reason = `step ${step.step_id}: ${reasonOf(error)}`;
    await done("failed", reason);
    return { ok: false, reason };
  }
  if (!result.ok) {
    const reason = `step ${step.step_id} ${result.status}${result.exit_code === null ? "" : ` (exit ${result.exit_code})`}: ${result.detail}`;
    await done("failed", reason);
    return { ok: false, reason };
  }
  await done("succeeded", result.detail);
  return { ok: true };
}

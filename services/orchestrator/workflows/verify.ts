/**
 * Verification after the last step: every step's verification read, again
 * and again with a growing pause until all pass or the deadline
 * (`verification_timeout_ms`) has passed, recorded as `execution.verified`
 * or `execution.verification_failed`. Workflow code: no Node built-ins.
 */
import { sleep } from "@temporalio/workflow";
import type { EventPayload } from "../../../events/index.ts";
import type { PlannedStep } from "../activities/contract.ts";
import { type ExecutionRun, reasonOf } from "./run.ts";

export async function verify(
  run: ExecutionRun,
  all: readonly PlannedStep[],
): Promise<{ passed: boolean; reason: string }> {
  const checked = all.filter((s) => s.verification?.action_id !== undefined);
  if (checked.length === 0) return { passed: true, reason: "" };
  run.progress.phase = "verifying";
  run.progress.current_step = null;
  // Workflow time is replay-safe; re-reading until the deadline lets a rollout settle.
  const deadline = Date.now() + run.input.verification_timeout_ms;
  let delayMs = 1000;
  for (let attempt = 1; ; attempt++) {
    const checks: EventPayload<"execution.verified">["checks"] = [];
    for (const step of checked) {
      const v = step.verification as NonNullable<PlannedStep["verification"]>;
      let passed = false;
      let detail: string;
      let evidenceId: string | undefined;
      try {
        const r = await run.tools.runTool({
          execution_id: run.exec,
          step_id: step.step_id,
          tool_call_id: `${run.exec}-${step.step_id}-verify-${attempt}`,
          action_id: v.action_id as string,
          input: v.input ?? {},
          dry_run: false,
          purpose: "verification",
          plan: run.plan,
        });
        passed = r.ok;
        evidenceId = r.evidence_id ?? undefined;
        detail = `${step.step_id}: ${v.action_id} ${r.status}${r.detail ? `: ${r.detail}` : ""}`;
      } catch (error) {
        detail = `${step.step_id}: ${v.action_id} refused: ${reasonOf(error)}`;
      }
      checks.push({
        description: v.description,
        passed,
        detail,
        ...(evidenceId === undefined ? {} : { evidence_id: evidenceId }),
      });
    }
    const failed = checks.filter((c) => !c.passed);
    const remaining = deadline - Date.now();
    if (failed.length === 0 || remaining <= 0) {
      const type = failed.length === 0 ? "execution.verified" : "execution.verification_failed";
      await run.record.recordEvent({ ...run.meta, event: { type, payload: { execution_id: run.exec, checks } } });
      const reason = `verification failed after ${attempt} attempt(s): ${failed.map((c) => c.detail ?? c.description).join("; ")}`;
      return { passed: failed.length === 0, reason };
    }
    await sleep(Math.min(delayMs, remaining));
    delayMs = Math.min(delayMs * 2, 15_000);
  }
}

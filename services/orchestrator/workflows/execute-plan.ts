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
import {
  ActivityFailure,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from "@temporalio/workflow";
import type { EventPayload } from "../../../events/index.ts";
import type { Activities, PlannedStep, ToolRunSummary } from "../activities.ts";

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

type StepOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export async function executePlan(input: ExecutePlanInput): Promise<ExecutionOutcome> {
  const exec = input.execution_id;
  // Appends and reads must land: keep retrying transient failures (NATS away) with a capped backoff.
  const record = proxyActivities<Activities>({
    startToCloseTimeout: "30s",
    retry: {
      initialInterval: "200ms",
      backoffCoefficient: 2,
      maximumInterval: "30s",
      nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES],
    },
  });
  // Tool calls may run long: a heartbeat shows the attempt is alive, so a dead worker's attempt is retried quickly.
  const tools = proxyActivities<Activities>({
    startToCloseTimeout: input.tool_timeout_ms + 60_000,
    heartbeatTimeout: "30s",
    retry: {
      initialInterval: "1s",
      backoffCoefficient: 2,
      maximumInterval: "30s",
      maximumAttempts: 5,
      nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES],
    },
  });

  let phase: ExecutionPhase = "starting";
  let currentStep: string | null = null;
  let finalReason: string | null = null;
  let cancel: CancelRequest | null = null;
  const completed: string[] = [];
  const meta = { correlation_id: input.correlation_id, causation_id: input.causation_id };

  setHandler(cancelSignal, (request) => {
    cancel ??= request;
  });
  setHandler(statusQuery, () => ({
    execution_id: exec,
    phase,
    current_step: currentStep,
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
    phase = status;
    currentStep = null;
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
  phase = "running";

  // Every tool call names its plan revision: the activity checks the call against it before it may run.
  const plan = { plan_id: input.plan_id, revision: input.revision };
  let steps: PlannedStep[];
  try {
    steps = await record.loadPlan(plan);
  } catch (error) {
    return finish("failed", reasonOf(error));
  }

  const completedWrites: PlannedStep[] = [];
  for (const step of steps) {
    if (cancel !== null) return finish("cancelled", cancelledReason());
    currentStep = step.step_id;
    const outcome = await runStep(step);
    if (!outcome.ok) {
      const rolledBack = await rollback(completedWrites, outcome.reason);
      return finish("failed", withRollback(outcome.reason, rolledBack), rolledBack.rolled);
    }
    completed.push(step.step_id);
    if (step.kind === "write" && !input.dry_run) completedWrites.push(step);
  }
  currentStep = null;
  if (cancel !== null) return finish("cancelled", cancelledReason());
  if (input.dry_run) return finish("succeeded", "dry run: no change was made");

  const verification = await verify(steps);
  if (!verification.passed) {
    const rolledBack = await rollback(completedWrites, verification.reason);
    return finish("failed", withRollback(verification.reason, rolledBack), rolledBack.rolled);
  }
  return finish("succeeded", null);

  async function runStep(step: PlannedStep): Promise<StepOutcome> {
    const toolCallId = `${exec}-${step.step_id}`;
    const approval = { plan_id: input.plan_id, revision: input.revision, step_id: step.step_id, execution_id: exec };
    if (step.kind === "write") {
      try {
        await record.checkApproval(approval);
      } catch (error) {
        return { ok: false, reason: `step ${step.step_id}: ${reasonOf(error)}` };
      }
    }
    const stepEvent = {
      execution_id: exec,
      step_id: step.step_id,
      action_id: step.action_id,
      tool_call_id: toolCallId,
    };
    await record.recordEvent({
      ...meta,
      event: { type: "execution.step_started", payload: { ...stepEvent, status: "running" } },
    });
    const done = async (status: "succeeded" | "failed" | "skipped", detail: string): Promise<void> => {
      await record.recordEvent({
        ...meta,
        event: { type: "execution.step_completed", payload: { ...stepEvent, status, ...(detail ? { detail } : {}) } },
      });
    };

    if (step.kind === "write" && input.dry_run && !step.dry_run_supported) {
      await done("skipped", `${step.action_id} has no dry-run form`);
      return { ok: true };
    }
    if (step.kind === "write" && !input.dry_run && step.dry_run_first && step.dry_run_supported) {
      let preview: ToolRunSummary;
      try {
        preview = await tools.runTool({
          execution_id: exec,
          step_id: step.step_id,
          tool_call_id: `${toolCallId}-dry-run`,
          action_id: step.action_id,
          input: step.input,
          dry_run: true,
          purpose: "dry_run",
          plan,
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
      result = await tools.runTool({
        execution_id: exec,
        step_id: step.step_id,
        tool_call_id: toolCallId,
        action_id: step.action_id,
        input: step.input,
        dry_run: input.dry_run,
        purpose: "step",
        plan,
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

  async function verify(all: readonly PlannedStep[]): Promise<{ passed: boolean; reason: string }> {
    const checked = all.filter((s) => s.verification?.action_id !== undefined);
    if (checked.length === 0) return { passed: true, reason: "" };
    phase = "verifying";
    currentStep = null;
    // Workflow time is replay-safe; re-reading until the deadline lets a rollout settle.
    const deadline = Date.now() + input.verification_timeout_ms;
    let delayMs = 1000;
    for (let attempt = 1; ; attempt++) {
      const checks: EventPayload<"execution.verified">["checks"] = [];
      for (const step of checked) {
        const v = step.verification as NonNullable<PlannedStep["verification"]>;
        let passed = false;
        let detail: string;
        let evidenceId: string | undefined;
        try {
          const r = await tools.runTool({
            execution_id: exec,
            step_id: step.step_id,
            tool_call_id: `${exec}-${step.step_id}-verify-${attempt}`,
            action_id: v.action_id as string,
            input: v.input ?? {},
            dry_run: false,
            purpose: "verification",
            plan,
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
        await record.recordEvent({ ...meta, event: { type, payload: { execution_id: exec, checks } } });
        const reason = `verification failed after ${attempt} attempt(s): ${failed.map((c) => c.detail ?? c.description).join("; ")}`;
        return { passed: failed.length === 0, reason };
      }
      await sleep(Math.min(delayMs, remaining));
      delayMs = Math.min(delayMs * 2, 15_000);
    }
  }

  async function rollback(
    writes: readonly PlannedStep[],
    reason: string,
  ): Promise<{ rolled: string[]; problems: string[] }> {
    if (writes.length === 0) return { rolled: [], problems: [] };
    phase = "rolling_back";
    currentStep = null;
    const order = [...writes].reverse();
    await record.recordEvent({
      ...meta,
      event: {
        type: "execution.rollback_started",
        payload: { execution_id: exec, reason, step_ids: order.map((s) => s.step_id) },
      },
    });
    const rolled: string[] = [];
    const problems: string[] = [];
    for (const step of order) {
      currentStep = step.step_id;
      if (!step.rollback) {
        problems.push(`${step.step_id} has no rollback`);
        continue;
      }
      try {
        // No approval re-check: undoing an approved change restores the state that held before it.
        const r = await tools.runTool({
          execution_id: exec,
          step_id: step.step_id,
          tool_call_id: `${exec}-${step.step_id}-rollback`,
          action_id: step.rollback.action_id,
          input: step.rollback.input,
          dry_run: false,
          purpose: "rollback",
          plan,
        });
        if (r.ok) rolled.push(step.step_id);
        else problems.push(`${step.step_id} rollback ${r.status}: ${r.detail}`);
      } catch (error) {
        problems.push(`${step.step_id} rollback refused: ${reasonOf(error)}`);
      }
    }
    currentStep = null;
    const summary =
      problems.length === 0
        ? `rolled back ${rolled.join(", ")}`
        : `rolled back [${rolled.join(", ")}]; ${problems.join("; ")}`;
    await record.recordEvent({
      ...meta,
      event: { type: "execution.rolled_back", payload: { execution_id: exec, reason: summary, step_ids: rolled } },
    });
    return { rolled, problems };
  }
}

function withRollback(reason: string, rollback: { rolled: string[]; problems: string[] }): string {
  if (rollback.rolled.length === 0 && rollback.problems.length === 0) return reason;
  const parts = [reason];
  if (rollback.rolled.length > 0) parts.push(`rolled back ${rollback.rolled.join(", ")}`);
  if (rollback.problems.length > 0) parts.push(rollback.problems.join("; "));
  return parts.join("; ");
}

/** The business reason behind an activity failure (its ApplicationFailure's message). */
function reasonOf(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause) return error.cause.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

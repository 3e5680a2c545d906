/**
 * Verification after the last step, as analysis: each step's checks
 * (lib/verification: its read, then its analysis) are measured in turn,
 * `count` times at most, every `interval`, after an initial delay; each
 * measurement is judged by the check's conditions and recorded as
 * `execution.measured` (its raw answer is evidence). A check stops early
 * once its verdict is settled: failed past its failure limit, inconclusive
 * past its inconclusive limit, or passed with no later measurement able to
 * change that; a plain read (plans made before analyses) also stops when the
 * verification timeout is spent, however slow its reads. Inconclusive past its limit fails, or, when the plan says
 * `pause`, waits for a person's `verdict` signal until its deadline (no
 * verdict: fail), recorded as `execution.paused` and shown as phase `paused`;
 * a cancel ends that wait at once, and verification then stops as a cancel
 * between measurements stops it (no verdict, nothing rolled back).
 * The first check that does not pass ends verification; the
 * outcome is recorded as `execution.verified` or `execution.verification_failed`.
 *
 * Measurements: Prometheus and Tempo through `QueryPrometheusActivity` and
 * `QueryTempoActivity`; a `kubectl` check runs its read through the tool
 * router as a verification call (its success, or the value at its path).
 * A measurement whose activity fails is inconclusive, never a pass.
 *
 * Workflow code: `@temporalio/workflow`, types, and lib/verification, which
 * is pure and imports nothing else (the judging must happen here, where it
 * is replayed, rather than in an activity's answer).
 */
import { type ActivityInterfaceFor, condition, defineSignal, patched, setHandler } from "@temporalio/workflow";
import type { EventPayload } from "../../../events/index.ts";
import type { PlannedStep, PrometheusActivities, TempoActivities } from "../../../lib/orchestration/activities.ts";
import {
  type Check,
  checksOf,
  judge,
  type Measurement,
  type Outcome,
  type Verdict,
  verdict,
  verdictAtDeadline,
} from "../../../lib/verification/index.ts";
import { callTool, type ExecutionRun, reasonOf } from "./run.ts";

/** A person's decision on an analysis paused as inconclusive (`on_inconclusive: "pause"`). */
export interface VerdictDecision {
  readonly decision: "pass" | "fail";
  readonly by: string;
  readonly reason: string;
  /** The step whose paused analysis it judges (`execution.verdict_requested`); absent: whichever is paused. */
  readonly step_id?: string | undefined;
}

/** Decides a paused analysis; a verdict sent while nothing is paused, or naming another step, is ignored. */
export const verdictSignal = defineSignal<[VerdictDecision]>("verdict");

/**
 * The marker of runs that record `execution.paused` when an analysis pauses for a verdict. Histories
 * recorded before it paused without it; replaying one, `patched` answers false and the run waits as
 * it did then (no activity, the whole pause timeout).
 */
export const VERDICT_PAUSE_PATCH = "verdict-pause-event";

/**
 * The marker of runs in which a cancel while an analysis is paused for a verdict (or as it is about to
 * pause) stops verification as `cancelled`. Runs that took that path before it failed the check ("none
 * came within N s") and rolled back; replaying one, `patched` answers false and it does so again.
 */
export const CANCEL_PAUSED_VERDICT_PATCH = "cancel-ends-verdict-pause";

/** An analysis pausing for a verdict: what `execution.paused` says of it. */
interface PauseFor {
  readonly step: PlannedStep;
  readonly check: Check;
  /** Why it is inconclusive, with its last measurement. */
  readonly reason: string;
  readonly attempts: number;
}

export interface VerificationOutcome {
  readonly passed: boolean;
  /** Not passed because measurements stayed inconclusive (not because one failed). */
  readonly inconclusive: boolean;
  /** Stopped by a cancel before a verdict: nothing was judged, nothing is to be rolled back for it. */
  readonly cancelled?: boolean;
  readonly reason: string;
}

type MeasuringActivities = ActivityInterfaceFor<PrometheusActivities & TempoActivities>;

interface CheckResult {
  readonly step: PlannedStep;
  readonly check: Check;
  readonly state: "pass" | "fail" | "inconclusive" | "cancelled";
  readonly attempts: number;
  readonly detail: string;
  readonly evidence_id: string | null;
}

/**
 * `stopped` is asked between measurements (and ends every wait at once): a cancel during verification
 * stops measuring, records no verdict, and leaves the change as it was made.
 */
export async function verify(
  run: ExecutionRun,
  all: readonly PlannedStep[],
  stopped: () => boolean = () => false,
): Promise<VerificationOutcome> {
  const planned = all
    .map((step) => ({ step, checks: checksOf(step.verification, run.input.verification_timeout_ms) }))
    .filter((p) => p.checks.length > 0);
  if (planned.length === 0) return { passed: true, inconclusive: false, reason: "" };
  run.progress.phase = "verifying";

  let decision: VerdictDecision | null = null;
  /** The step whose analysis waits for a verdict; null while none does. */
  let pausedOn: string | null = null;
  setHandler(verdictSignal, (d) => {
    if (pausedOn !== null && (d.step_id === undefined || d.step_id === pausedOn)) decision ??= d;
  });
  const awaitVerdict = async (pause: PauseFor): Promise<VerdictDecision | null> => {
    decision = null;
    pausedOn = pause.step.step_id;
    run.progress.phase = "paused";
    let waitMs = pause.check.pause_timeout_ms;
    if (patched(VERDICT_PAUSE_PATCH)) {
      const deadline = Date.now() + waitMs;
      await run.activities.recordEvent({
        ...run.meta,
        event: {
          type: "execution.paused",
          payload: {
            execution_id: run.exec,
            step_id: pause.step.step_id,
            check: pause.check.description,
            reason: pause.reason,
            attempts: pause.attempts,
            deadline: new Date(deadline).toISOString(),
          },
        },
      });
      // The deadline is the one recorded (and shown to people): recording it took some of the wait.
      waitMs = Math.max(1, deadline - Date.now());
    }
    await condition(() => decision !== null || stopped(), waitMs);
    pausedOn = null;
    run.progress.phase = "verifying";
    return decision;
  };

  const results: CheckResult[] = [];
  for (const { step, checks } of planned) {
    for (const check of checks) {
      run.progress.current_step = step.step_id;
      const result = await runCheck(run, step, check, awaitVerdict, stopped);
      results.push(result);
      if (result.state !== "pass") break;
    }
    if (results.at(-1)?.state !== "pass") break;
  }
  run.progress.current_step = null;
  const stop = results.at(-1);
  if (stop?.state === "cancelled") {
    return { passed: false, inconclusive: false, cancelled: true, reason: stop.detail };
  }

  const checks: EventPayload<"execution.verified">["checks"] = results.map((r) => ({
    description: r.check.description,
    passed: r.state === "pass",
    detail: r.detail,
    ...(r.evidence_id === null ? {} : { evidence_id: r.evidence_id }),
  }));
  const last = results.at(-1) as CheckResult;
  const passed = last.state === "pass";
  await run.activities.recordEvent({
    ...run.meta,
    event: {
      type: passed ? "execution.verified" : "execution.verification_failed",
      payload: {
        execution_id: run.exec,
        ...(planned.length === 1 ? { step_id: last.step.step_id } : {}),
        checks,
      },
    },
  });
  if (passed) return { passed: true, inconclusive: false, reason: "" };
  const word = last.state === "inconclusive" ? "inconclusive" : "failed";
  return {
    passed: false,
    inconclusive: last.state === "inconclusive",
    reason: `verification ${word} after ${last.attempts} attempt(s): ${last.detail}`,
  };
}

async function runCheck(
  run: ExecutionRun,
  step: PlannedStep,
  check: Check,
  awaitVerdict: (pause: PauseFor) => Promise<VerdictDecision | null>,
  stopped: () => boolean,
): Promise<CheckResult> {
  // A wait that a cancel ends at once (a timer like `sleep` otherwise, so histories replay the same).
  const pause = (ms: number) => condition(stopped, ms);
  // What the check reads, for a person: the read's own output says which read; a query is named.
  const subject = check.read ? "" : `${check.provider} ${JSON.stringify(check.query)}: `;
  if (check.initial_delay_ms > 0) await pause(check.initial_delay_ms);
  const outcomes: Outcome[] = [];
  let state: Verdict = { state: "measuring" };
  let last = "not measured";
  let evidenceId: string | null = null;
  // Workflow time (replayed as it was): a plain read's budget runs from its first measurement.
  const started = Date.now();
  const cancelled = (when: string): CheckResult => ({
    step,
    check,
    state: "cancelled",
    attempts: outcomes.length,
    detail: `verification stopped by a cancel after ${outcomes.length} measurement(s) of ${step.step_id}, ${when}`,
    evidence_id: evidenceId,
  });
  for (let attempt = 1; state.state === "measuring"; attempt++) {
    if (attempt > 1) await pause(check.interval_ms);
    if (stopped()) return cancelled("before a verdict");
    const m = await measure(run, step, check, attempt);
    const judged = judge(check, m, step.input);
    // Without a value the judgement already says why; with one, what was read is added to it.
    const reason = m.value === null ? judged.reason : `${judged.reason} (${m.detail})`;
    last = m.value === null ? judged.reason : `${m.detail}: ${judged.reason}`;
    evidenceId = m.evidence_id ?? evidenceId;
    await run.activities.recordEvent({
      ...run.meta,
      event: {
        type: "execution.measured",
        payload: {
          execution_id: run.exec,
          step_id: step.step_id,
          provider: check.provider,
          query: check.read ? `${check.read.action_id} ${check.query}`.trim() : check.query,
          attempt,
          value: typeof m.value === "number" && Number.isFinite(m.value) ? m.value : null,
          outcome: judged.outcome,
          reason,
          measured_at: m.measured_at ?? new Date().toISOString(),
          ...(m.evidence_id ? { evidence_id: m.evidence_id } : {}),
        },
      },
    });
    outcomes.push(judged.outcome);
    state = verdict(check, outcomes);
    if (state.state === "measuring" && check.deadline_ms !== undefined && Date.now() - started >= check.deadline_ms) {
      state = verdictAtDeadline(check, outcomes);
    }
  }
  const settled = state as Exclude<Verdict, { state: "measuring" }>;
  const result = (s: CheckResult["state"], why: string): CheckResult => ({
    step,
    check,
    state: s,
    attempts: outcomes.length,
    detail: `${step.step_id}: ${subject}${last}; ${why}`,
    evidence_id: evidenceId,
  });
  if (settled.state !== "inconclusive" || check.on_inconclusive === "fail") {
    return result(settled.state, settled.reason);
  }
  // Inconclusive with `pause`: a person would judge it, so a cancel leaves it unjudged. `patched` is asked
  // only on a cancel, so runs that were never cancelled here record no marker and replay as they ran.
  if (stopped()) {
    return patched(CANCEL_PAUSED_VERDICT_PATCH)
      ? cancelled("as its analysis was about to pause for a verdict")
      : result("inconclusive", settled.reason);
  }

  const waitS = Math.round(check.pause_timeout_ms / 1000);
  const d = await awaitVerdict({
    step,
    check,
    reason: `${subject}${last}; ${settled.reason}`,
    attempts: outcomes.length,
  });
  if (d === null && stopped() && patched(CANCEL_PAUSED_VERDICT_PATCH)) {
    return cancelled("while its analysis was paused for a verdict, before one came");
  }
  if (d === null) return result("fail", `${settled.reason}; paused for a verdict, none came within ${waitS} s`);
  const decided = `${settled.reason}; paused, then judged ${d.decision} by ${d.by}: ${d.reason}`;
  return result(d.decision, decided);
}

/** One measurement; an activity that fails is no value (inconclusive), with its reason. */
async function measure(
  run: ExecutionRun,
  step: PlannedStep,
  check: Check,
  attempt: number,
): Promise<Measurement & { readonly measured_at?: string; readonly evidence_id?: string | null }> {
  if (check.broken !== undefined) return { value: null, detail: check.broken };
  const queries = run.activities as ExecutionRun["activities"] & MeasuringActivities;
  const base = {
    execution_id: run.exec,
    step_id: step.step_id,
    attempt,
    query: check.query,
    correlation_id: run.meta.correlation_id,
  };
  try {
    switch (check.provider) {
      case "prometheus":
        return await queries.QueryPrometheusActivity(base);
      case "tempo": {
        const tempo = check.tempo as NonNullable<Check["tempo"]>;
        return await queries.QueryTempoActivity({ ...base, ...tempo });
      }
      case "kubectl": {
        const read = check.read as NonNullable<Check["read"]>;
        const path = check.query.trim();
        const r = await callTool(run, {
          execution_id: run.exec,
          step_id: step.step_id,
          tool_call_id: `${run.exec}-${step.step_id}-verify-${attempt}`,
          action_id: read.action_id,
          input: read.input,
          dry_run: false,
          purpose: "verification",
          plan: run.plan,
          ...(path === "" ? {} : { select: path }),
        });
        const said = `${read.action_id} ${r.status}${r.detail ? `: ${r.detail}` : ""}`;
        if (path === "") return { value: r.ok ? 1 : 0, detail: said, evidence_id: r.evidence_id };
        if (r.selected === undefined) {
          return {
            value: null,
            detail: `${said}; the read was an earlier attempt's, its value is in its evidence`,
            evidence_id: r.evidence_id,
          };
        }
        return { value: r.selected.value, detail: r.selected.reason, evidence_id: r.evidence_id };
      }
    }
  } catch (error) {
    return { value: null, detail: `the measurement failed: ${reasonOf(error)}` };
  }
}

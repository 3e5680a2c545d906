/**
 * The analysis engine: one measurement judged against its check's
 * conditions, and the running verdict of a check from the outcomes so far.
 *
 * A measurement (as Argo Rollouts judges one):
 * - no value (an empty answer, a failed query, a field that is absent), NaN
 *   or an infinite number: inconclusive, never a pass;
 * - the failure condition holds: fail;
 * - the success condition holds: pass;
 * - neither: fail when there is no failure condition, else inconclusive.
 * A condition that cannot be evaluated (a string compared with a number) is
 * inconclusive too.
 *
 * The verdict, after each measurement:
 * - more failures than `failure_limit`: fail (stop measuring);
 * - more inconclusive measurements than `inconclusive_limit`: inconclusive;
 * - `count` measurements made: pass if at least one passed, else
 *   inconclusive (nothing was ever seen to be right);
 * - a pass already seen and no remaining measurement could change that:
 *   pass (stop early);
 * - otherwise: keep measuring.
 *
 * Pure and import-free but for its own modules: the workflow sandbox runs it.
 */
import { evaluate, type Scalar } from "./condition.ts";
import type { Check } from "./spec.ts";

export type Outcome = "pass" | "fail" | "inconclusive";

export interface Judgement {
  readonly outcome: Outcome;
  readonly reason: string;
}

export type Verdict =
  | { readonly state: "measuring" }
  | { readonly state: "pass" | "fail" | "inconclusive"; readonly reason: string };

/** A measured value, or null with the reason there is none (`detail` says what was read). */
export interface Measurement {
  readonly value: Scalar | null;
  readonly detail: string;
}

export function judge(check: Check, m: Measurement, input: Readonly<Record<string, unknown>>): Judgement {
  if (check.broken !== undefined) return { outcome: "inconclusive", reason: check.broken };
  if (m.value === null) return { outcome: "inconclusive", reason: `no value: ${m.detail}` };
  if (typeof m.value === "number" && !Number.isFinite(m.value)) {
    return { outcome: "inconclusive", reason: `the value is ${m.value}, not a measurement: ${m.detail}` };
  }
  const shown = JSON.stringify(m.value);
  if (check.failure !== null) {
    const failed = evaluate(check.failure, m.value, input);
    if (!failed.ok) return { outcome: "inconclusive", reason: `${check.failure_text}: ${failed.reason}` };
    if (failed.holds) return { outcome: "fail", reason: `${shown}: ${check.failure_text} holds` };
  }
  const passed = evaluate(check.success, m.value, input);
  if (!passed.ok) return { outcome: "inconclusive", reason: `${check.success_text}: ${passed.reason}` };
  if (passed.holds) return { outcome: "pass", reason: `${shown}: ${check.success_text} holds` };
  return check.failure === null
    ? { outcome: "fail", reason: `${shown}: ${check.success_text} does not hold` }
    : {
        outcome: "inconclusive",
        reason: `${shown}: neither ${check.success_text} nor ${check.failure_text} holds`,
      };
}

export function verdict(check: Check, outcomes: readonly Outcome[]): Verdict {
  const tally = { pass: 0, fail: 0, inconclusive: 0 };
  for (const o of outcomes) tally[o]++;
  const n = outcomes.length;
  const of = `${n} of ${check.count} measurement(s)`;
  if (tally.fail > check.failure_limit) {
    return {
      state: "fail",
      reason: `${tally.fail} failed measurement(s), more than the ${check.failure_limit} allowed (${of})`,
    };
  }
  if (tally.inconclusive > check.inconclusive_limit) {
    return {
      state: "inconclusive",
      reason: `${tally.inconclusive} inconclusive measurement(s), more than the ${check.inconclusive_limit} allowed (${of})`,
    };
  }
  const remaining = check.count - n;
  if (remaining <= 0) {
    return tally.pass > 0
      ? { state: "pass", reason: `${tally.pass} of ${n} measurement(s) passed` }
      : { state: "inconclusive", reason: `no measurement passed (${of})` };
  }
  const settled =
    tally.fail + remaining <= check.failure_limit && tally.inconclusive + remaining <= check.inconclusive_limit;
  if (tally.pass > 0 && settled) {
    return { state: "pass", reason: `${tally.pass} of ${n} measurement(s) passed; no later one could fail it` };
  }
  return { state: "measuring" };
}

/**
 * The verdict when a check's time budget is spent before its count: the measurements made are all
 * there will be, and every one of them may have failed (a read that never succeeded fails).
 */
export function verdictAtDeadline(
  check: Check,
  outcomes: readonly Outcome[],
): Exclude<Verdict, { state: "measuring" }> {
  const n = Math.max(1, outcomes.length);
  const final = verdict(
    {
      ...check,
      count: n,
      failure_limit: Math.min(check.failure_limit, n - 1),
      inconclusive_limit: Math.min(check.inconclusive_limit, n - 1),
    },
    outcomes,
  );
  if (final.state === "measuring") return { state: "inconclusive", reason: "nothing was measured before the deadline" };
  return { ...final, reason: `${final.reason}; its time was up` };
}

/**
 * From a plan step's `verification` to the checks verification runs, with
 * every default filled in and every condition and path parsed; and the
 * problems a plan check reports for one that cannot run (named by field,
 * with the fix).
 *
 * A step's checks, in order:
 * - its read (`action_id`), when there is one and no `kubectl` analysis
 *   measures it: the read's success, measured until it passes or the
 *   execution's verification timeout has passed (how plans made before
 *   analyses were verified, kept);
 * - its `analysis`, as written;
 * - a `promql` with no analysis (plans made before analyses existed): it
 *   names no condition, so it can only be inconclusive, never a silent pass.
 * A description alone is a note for people: nothing is measured.
 *
 * Pure and import-free but for types: the workflow sandbox runs it.
 */
import type { StepVerification, VerificationAnalysis } from "../../events/plan.ts";
import { type Condition, parseCondition } from "./condition.ts";
import { parseSelector, type Selector } from "./select.ts";

export type Provider = VerificationAnalysis["provider"];

/** One analysis with its defaults filled in: what the workflow runs. */
export interface Check {
  readonly provider: Provider;
  /** As written in the plan (recorded on every `execution.measured`). */
  readonly query: string;
  readonly description: string;
  readonly success: Condition;
  readonly success_text: string;
  readonly failure: Condition | null;
  readonly failure_text: string | null;
  readonly initial_delay_ms: number;
  readonly interval_ms: number;
  readonly count: number;
  readonly failure_limit: number;
  readonly inconclusive_limit: number;
  readonly on_inconclusive: "fail" | "pause";
  readonly pause_timeout_ms: number;
  /** `kubectl`: the read run for each measurement, and the value selected from its output. */
  readonly read?: { readonly action_id: string; readonly input: Record<string, unknown>; readonly selector: Selector };
  /** `tempo`: the search around the query. */
  readonly tempo?: {
    readonly tags: string | null;
    readonly window_seconds: number;
    readonly limit: number;
    readonly measure: "count" | "max_duration_ms";
  };
  /**
   * A plain read's time budget from its first measurement: once spent, the verdict is given on the
   * measurements made (`verdictAtDeadline`), however few a slow read allowed.
   */
  readonly deadline_ms?: number | undefined;
  /** Why this check can only be inconclusive (a plan that could not be checked when it was proposed). */
  readonly broken?: string | undefined;
}

export interface VerificationProblem {
  readonly field: string;
  readonly message: string;
  readonly fix: string;
}

export const ANALYSIS_DEFAULTS = {
  initial_delay_seconds: 0,
  interval_seconds: 10,
  count: 1,
  failure_limit: 0,
  inconclusive_limit: 0,
  on_inconclusive: "fail",
  pause_timeout_seconds: 3600,
  tempo: { window_seconds: 300, limit: 100, measure: "count" },
} as const;

/** How often a plain read is measured again while it has not passed, at most (a tenth of the timeout, at least 1 s). */
const READ_INTERVAL_MS = 5000;
const MAX_COUNT = 100;

/** The checks of one step's verification. `timeoutMs`: how long a plain read may be measured again. */
export function checksOf(verification: StepVerification | undefined, timeoutMs: number): Check[] {
  if (!verification) return [];
  const checks: Check[] = [];
  const { analysis } = verification;
  if (verification.action_id !== undefined && analysis?.provider !== "kubectl") {
    checks.push(readCheck(verification, verification.action_id, timeoutMs));
  }
  if (analysis) checks.push(analysisCheck(verification, analysis));
  else if (verification.promql !== undefined) {
    checks.push(
      analysisCheck(
        verification,
        { provider: "prometheus", query: verification.promql, success_condition: "result == 1" },
        "the step names promql without an analysis: no condition says what passes, so nothing can judge it",
      ),
    );
  }
  return checks;
}

const always = (text: string): Condition => {
  const parsed = parseCondition(text);
  if (!parsed.ok) throw new Error(`built-in condition ${text}: ${parsed.message}`);
  return parsed.condition;
};

/** A read that must succeed: measured until it does, the last time when the verification timeout is up. */
function readCheck(verification: StepVerification, actionId: string, timeoutMs: number): Check {
  const interval = Math.min(READ_INTERVAL_MS, Math.max(1000, Math.floor(timeoutMs / 10)));
  const count = Math.max(1, Math.min(MAX_COUNT, Math.floor(timeoutMs / interval) + 1));
  return {
    provider: "kubectl",
    query: "",
    description: verification.description,
    success: always("result == 1"),
    success_text: "result == 1",
    failure: null,
    failure_text: null,
    initial_delay_ms: 0,
    interval_ms: interval,
    count,
    // Any one success passes: a rollout may take a few reads to settle.
    failure_limit: count - 1,
    inconclusive_limit: count - 1,
    on_inconclusive: "fail",
    pause_timeout_ms: ANALYSIS_DEFAULTS.pause_timeout_seconds * 1000,
    read: { action_id: actionId, input: verification.input ?? {}, selector: { path: [] } },
    deadline_ms: timeoutMs,
  };
}

function analysisCheck(verification: StepVerification, a: VerificationAnalysis, broken?: string): Check {
  const d = ANALYSIS_DEFAULTS;
  const success = parseCondition(a.success_condition);
  const failure = a.failure_condition === undefined ? null : parseCondition(a.failure_condition);
  const selector = a.provider === "kubectl" ? parseSelector(a.query) : null;
  const problems = [
    ...(broken === undefined ? [] : [broken]),
    ...analysisProblems(verification, a).map((p) => `${p.field}: ${p.message}`),
  ];
  return {
    provider: a.provider,
    query: a.query,
    description: verification.description,
    success: success.ok ? success.condition : always("result == 1"),
    success_text: a.success_condition,
    failure: failure?.ok ? failure.condition : null,
    failure_text: a.failure_condition ?? null,
    initial_delay_ms: (a.initial_delay_seconds ?? d.initial_delay_seconds) * 1000,
    interval_ms: (a.interval_seconds ?? d.interval_seconds) * 1000,
    count: a.count ?? d.count,
    failure_limit: a.failure_limit ?? d.failure_limit,
    inconclusive_limit: a.inconclusive_limit ?? d.inconclusive_limit,
    on_inconclusive: a.on_inconclusive ?? d.on_inconclusive,
    pause_timeout_ms: (a.pause_timeout_seconds ?? d.pause_timeout_seconds) * 1000,
    ...(a.provider === "kubectl" && verification.action_id !== undefined && selector?.ok
      ? { read: { action_id: verification.action_id, input: verification.input ?? {}, selector: selector.selector } }
      : {}),
    ...(a.provider === "tempo"
      ? {
          tempo: {
            tags: a.tempo?.tags ?? null,
            window_seconds: a.tempo?.window_seconds ?? d.tempo.window_seconds,
            limit: a.tempo?.limit ?? d.tempo.limit,
            measure: a.tempo?.measure ?? d.tempo.measure,
          },
        }
      : {}),
    ...(problems.length > 0 ? { broken: problems.join("; ") } : {}),
  };
}

/**
 * What is wrong with a step's verification, beyond its shape (the event schema) and its read
 * action's catalog checks (the plan check's): conditions, queries and paths that cannot be read,
 * `input.` fields the step's input does not have, an analysis with nothing to measure.
 */
export function verificationProblems(
  verification: StepVerification,
  stepInput: Readonly<Record<string, unknown>>,
): VerificationProblem[] {
  const problems: VerificationProblem[] = [];
  const { analysis } = verification;
  if (verification.promql !== undefined && !analysis) {
    problems.push({
      field: "verification.promql",
      message: "a PromQL query alone names no condition, so nothing could judge it",
      fix: 'give verification.analysis {provider: "prometheus", query, success_condition, ...} instead of promql',
    });
  }
  if (analysis) {
    for (const p of analysisProblems(verification, analysis)) problems.push(p);
    for (const [field, text] of [
      ["success_condition", analysis.success_condition],
      ["failure_condition", analysis.failure_condition],
    ] as const) {
      if (text === undefined) continue;
      const parsed = parseCondition(text);
      if (!parsed.ok) continue;
      for (const name of parsed.inputFields) {
        if (!scalarAt(stepInput, name)) {
          problems.push({
            field: `verification.analysis.${field}`,
            message: `input.${name} is not a number, string or boolean of the step's input`,
            fix: "compare with a field the step's input sets (e.g. input.replicas), or with a constant",
          });
        }
      }
    }
  }
  return problems;
}

function analysisProblems(verification: StepVerification, a: VerificationAnalysis): VerificationProblem[] {
  const problems: VerificationProblem[] = [];
  const at = "verification.analysis";
  for (const [field, text] of [
    ["success_condition", a.success_condition],
    ["failure_condition", a.failure_condition],
  ] as const) {
    if (text === undefined) continue;
    const parsed = parseCondition(text);
    if (!parsed.ok) problems.push({ field: `${at}.${field}`, message: parsed.message, fix: parsed.fix });
  }
  switch (a.provider) {
    case "prometheus":
      if (a.query.trim() === "") {
        problems.push({
          field: `${at}.query`,
          message: "empty",
          fix: 'give a PromQL query answering one sample, e.g. sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))',
        });
      }
      break;
    case "tempo":
      if (a.query.trim() === "" && !a.tempo?.tags?.trim()) {
        problems.push({
          field: `${at}.query`,
          message: "neither a TraceQL query nor tempo.tags",
          fix: 'give a TraceQL query such as { resource.service.name = "shop" && status = error }, or tempo.tags in logfmt',
        });
      }
      break;
    case "kubectl": {
      if (verification.action_id === undefined) {
        problems.push({
          field: "verification.action_id",
          message: "a kubectl analysis measures the verification's read, and there is none",
          fix: 'name the read: verification.action_id (e.g. "kubectl.get") and verification.input',
        });
      }
      const selector = parseSelector(a.query);
      if (!selector.ok) problems.push({ field: `${at}.query`, message: selector.message, fix: selector.fix });
      break;
    }
  }
  const count = a.count ?? ANALYSIS_DEFAULTS.count;
  if ((a.failure_limit ?? 0) >= count) {
    problems.push({
      field: `${at}.failure_limit`,
      message: `${a.failure_limit} failures allowed out of ${count} measurement(s): the analysis could never fail`,
      fix: `allow fewer failures than measurements (at most ${count - 1}), or measure more often (count)`,
    });
  }
  return problems;
}

function scalarAt(input: Readonly<Record<string, unknown>>, dotted: string): boolean {
  let value: unknown = input;
  for (const key of dotted.split(".")) {
    value =
      value !== null && typeof value === "object" && !Array.isArray(value)
        ? (value as Record<string, unknown>)[key]
        : undefined;
  }
  return typeof value === "number" || typeof value === "string" || typeof value === "boolean";
}

/**
 * Verification as analysis: a plan step's `verification` turned into checks
 * (spec.ts), each measurement judged by its conditions (condition.ts: a small
 * comparison language, parsed, never evaluated as code) and the running
 * verdict of a check (analysis.ts). `kubectl` checks measure a field of a
 * read's JSON output (select.ts). Everything here is pure and import-free
 * but for its own modules and types, so that the workflow sandbox runs it
 * and plan checks refuse what it cannot run.
 */
export {
  type Judgement,
  judge,
  type Measurement,
  type Outcome,
  type Verdict,
  verdict,
  verdictAtDeadline,
} from "./analysis.ts";
export { type Condition, type Evaluation, evaluate, parseCondition, type Scalar } from "./condition.ts";
export { parseSelector, pathText, type Selected, type Selector, selectValue } from "./select.ts";
export {
  ANALYSIS_DEFAULTS,
  type Check,
  checksOf,
  type Provider,
  type VerificationProblem,
  verificationProblems,
} from "./spec.ts";

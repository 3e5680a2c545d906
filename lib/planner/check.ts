/**
 * The planner's own check of a model answer, whatever the provider enforced:
 * shape (the event schema of a plan step), catalog membership, each input
 * against its action's JSON schema, a verification and a rollback on every
 * write step, its verification's analysis (conditions, query, path, limits:
 * lib/verification), and the request's scope (environment). Nothing that fails here
 * is ever emitted; the issues go back to the model for a repair.
 */
import * as v from "valibot";
import { PlanStepSchema } from "../../events/plan.ts";
import type { FieldIssue } from "../errors/index.ts";
import type { Catalog } from "../tools/index.ts";
import { verificationProblems } from "../verification/index.ts";
import { MAX_STEPS } from "./schema.ts";
import type { PlanStep } from "./types.ts";

export type DraftCheck =
  | { readonly ok: true; readonly summary: string; readonly steps: PlanStep[] }
  | { readonly ok: false; readonly issues: FieldIssue[] };

export interface CheckScope {
  /** Every step must target this environment, when the request names one. */
  readonly environment?: string | undefined;
}

export function checkDraft(draft: unknown, catalog: Catalog, scope: CheckScope = {}): DraftCheck {
  const issues: FieldIssue[] = [];
  if (typeof draft !== "object" || draft === null || Array.isArray(draft)) {
    return {
      ok: false,
      issues: [
        {
          field: "(root)",
          message: "the answer is not a JSON object",
          fix: "answer with one JSON object matching the schema",
        },
      ],
    };
  }
  const d = draft as Record<string, unknown>;
  if (typeof d.summary !== "string" || d.summary.trim() === "") {
    issues.push({ field: "summary", message: "missing or empty", fix: "describe the plan in one or two sentences" });
  }
  if (!Array.isArray(d.steps) || d.steps.length === 0) {
    issues.push({ field: "steps", message: "must be a non-empty array", fix: "propose at least one step" });
    return { ok: false, issues };
  }
  if (d.steps.length > MAX_STEPS) {
    issues.push({
      field: "steps",
      message: `has ${d.steps.length} steps, more than ${MAX_STEPS}`,
      fix: "propose fewer, larger steps",
    });
  }
  const steps: PlanStep[] = [];
  const ids = new Set<string>();
  d.steps.forEach((raw, i) => {
    const at = `steps[${i}]`;
    const parsed = v.safeParse(PlanStepSchema, raw);
    if (!parsed.success) {
      for (const issue of parsed.issues) {
        issues.push({
          field: `${at}.${v.getDotPath(issue) ?? ""}`.replace(/\.$/, ""),
          message: issue.message,
          fix: "follow the step schema",
        });
      }
      return;
    }
    const step = parsed.output;
    if (ids.has(step.step_id))
      issues.push({
        field: `${at}.step_id`,
        message: `duplicate step id ${step.step_id}`,
        fix: "number steps s1, s2, ...",
      });
    ids.add(step.step_id);
    const action = catalog.get(step.action_id);
    if (!action) {
      issues.push({
        field: `${at}.action_id`,
        message: `"${step.action_id}" is not in the tool catalog`,
        fix: "use only action ids from the schema; there is no other way to act",
      });
      return;
    }
    const input = catalog.validateInput(step.action_id, step.input);
    if (!input.ok) for (const issue of input.issues) issues.push({ ...issue, field: `${at}.${issue.field}` });
    if (step.rationale.trim() === "")
      issues.push({ field: `${at}.rationale`, message: "empty", fix: "say why this step is needed" });
    if (scope.environment && step.target.environment !== scope.environment) {
      issues.push({
        field: `${at}.target.environment`,
        message: `"${step.target.environment}" is outside this request's environment "${scope.environment}"`,
        fix: `only act on ${scope.environment}`,
      });
    }
    if (step.verification?.action_id !== undefined) {
      const check = catalog.get(step.verification.action_id);
      if (check?.kind !== "read") {
        issues.push({
          field: `${at}.verification.action_id`,
          message: `"${step.verification.action_id}" is not a read action of the catalog`,
          fix: "verify with a read action, or with an analysis of provider prometheus or tempo",
        });
      } else {
        const vi = catalog.validateInput(check.id, step.verification.input ?? {});
        if (!vi.ok)
          for (const issue of vi.issues) issues.push({ ...issue, field: `${at}.verification.${issue.field}` });
      }
    }
    if (step.verification) {
      for (const problem of verificationProblems(step.verification, step.input)) {
        issues.push({ ...problem, field: `${at}.${problem.field}` });
      }
    }
    if (action.kind === "write") {
      if (!step.expected_effect?.trim())
        issues.push({
          field: `${at}.expected_effect`,
          message: "missing on a write step",
          fix: "say what changes when the step succeeds",
        });
      if (!step.verification)
        issues.push({
          field: `${at}.verification`,
          message: "missing on a write step",
          fix: "say how to check that the step worked",
        });
      if (step.rollback === undefined) {
        issues.push({
          field: `${at}.rollback`,
          message: "missing on a write step",
          fix: "give the catalog action and input that undo it, or null when nothing can",
        });
      } else if (step.rollback !== null) {
        const rb = catalog.get(step.rollback.action_id);
        if (!rb) {
          issues.push({
            field: `${at}.rollback.action_id`,
            message: `"${step.rollback.action_id}" is not in the tool catalog`,
            fix: "roll back with a catalog action, or null",
          });
        } else {
          const ri = catalog.validateInput(rb.id, step.rollback.input);
          if (!ri.ok) for (const issue of ri.issues) issues.push({ ...issue, field: `${at}.rollback.${issue.field}` });
        }
      }
    }
    steps.push(step);
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, summary: (d.summary as string).trim(), steps };
}

/** The repair message sent back to the model: every issue with its field and fix. */
export function repairMessage(issues: readonly FieldIssue[], parseError?: string): string {
  const lines = parseError
    ? [
        `Your answer was not valid JSON (${parseError}). Answer again with one JSON object matching the schema, and nothing else.`,
      ]
    : [
        "Your plan was rejected by validation. Fix every issue below and answer again with the complete plan as one JSON object.",
        ...issues.slice(0, 40).map((i) => `- ${i.field}: ${i.message}${i.fix ? ` (fix: ${i.fix})` : ""}`),
      ];
  return lines.join("\n");
}

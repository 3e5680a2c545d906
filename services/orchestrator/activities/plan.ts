/** The plan revision an execution runs: read from the plan's stream, as the workflow runs it. */
import type { AnyRecordedEvent } from "../../../events/index.ts";
import type { PlannedStep, PlanRevisionRef } from "../../../lib/orchestration/activities.ts";
import type { Catalog } from "../../../lib/tools/index.ts";
import { planNotFound } from "./temporal.ts";

type Proposed = Extract<AnyRecordedEvent, { type: "plan.proposed" }>;

/** The `plan.proposed` of the revision; `PlanNotFound` (non-retryable) when the plan has no such revision. */
export function proposedRevision(history: readonly AnyRecordedEvent[], plan: PlanRevisionRef): Proposed {
  const proposed = lastOf(history, "plan.proposed", plan.revision);
  if (!proposed) throw planNotFound(plan);
  return proposed;
}

/** The steps of one plan revision, with catalog kind and policy constraints. */
export function plannedSteps(
  history: readonly AnyRecordedEvent[],
  plan: PlanRevisionRef,
  catalog: Catalog,
): PlannedStep[] {
  const proposed = proposedRevision(history, plan);
  const decided = lastOf(history, "policy.decided", plan.revision);
  return proposed.payload.steps.map((step) => {
    const action = catalog.get(step.action_id);
    const stepPolicy = decided?.payload.steps.find((s) => s.step_id === step.step_id)?.constraints;
    const merged = (decided?.payload.constraints.steps as Record<string, Record<string, unknown>> | undefined)?.[
      step.step_id
    ];
    return {
      step_id: step.step_id,
      action_id: step.action_id,
      input: step.input,
      kind: action?.kind === "read" ? "read" : "write",
      dry_run_supported: action?.dry_run === true,
      dry_run_first: (stepPolicy ?? merged)?.dry_run_first === true,
      ...(step.verification ? { verification: step.verification } : {}),
      ...(step.rollback ? { rollback: step.rollback } : {}),
    };
  });
}

function lastOf<T extends "plan.proposed" | "policy.decided">(
  history: readonly AnyRecordedEvent[],
  type: T,
  revision: number,
): Extract<AnyRecordedEvent, { type: T }> | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i] as AnyRecordedEvent;
    if (e.type === type && (e.payload as { revision: number }).revision === revision) {
      return e as Extract<AnyRecordedEvent, { type: T }>;
    }
  }
  return null;
}

/**
 * What the activities take from Temporal: the running activity's context and
 * attempt, and the failures they throw for business rejections
 * (non-retryable, their `type` listed in the workflow's `NON_RETRYABLE_TYPES`).
 */
import { ApplicationFailure, Context } from "@temporalio/activity";
import type { WheelhouseError } from "../../../lib/errors/index.ts";

/** A call the orchestrator will not authorise. */
export function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: "ToolCallRefused", nonRetryable: true, message });
}

/** A plan revision that is not on the plan's stream. */
export function planNotFound(plan: { readonly plan_id: string; readonly revision: number }): ApplicationFailure {
  return ApplicationFailure.create({
    type: "PlanNotFound",
    nonRetryable: true,
    message: `plan ${plan.plan_id} has no revision ${plan.revision}`,
  });
}

/** A `WheelhouseError` refusal as a non-retryable failure of `type`, keeping its code, field and fix. */
export function refusal(type: string, error: WheelhouseError): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    nonRetryable: true,
    message: error.message,
    details: [{ code: error.code, field: error.field ?? null, fix: error.fix ?? null }],
  });
}

/** The running activity's context, or null when called outside one (a test calling it directly). */
export function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/** Attempt number when running inside an activity; 1 elsewhere. */
export function attempt(): number {
  return activityContext()?.info.attempt ?? 1;
}

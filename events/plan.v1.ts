/**
 * `plan.requested` schema version 1, as written before `source` existed and
 * when the intent was called `text`. Kept to read old streams; upcast to v2.
 */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

export const PlanRequestedV1Schema = v.object({
  plan_id: IdSchema,
  text: v.string(),
  environment: v.optional(v.string()),
});

export function upcastPlanRequestedV1(payload: unknown): unknown {
  const old = v.parse(PlanRequestedV1Schema, payload);
  return {
    plan_id: old.plan_id,
    intent: old.text,
    source: "api",
    ...(old.environment === undefined ? {} : { environment: old.environment }),
  };
}

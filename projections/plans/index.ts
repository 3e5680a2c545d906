/** Read model `plans` (+ `plan_steps`, `approvals`): a plan, its steps, its policy decision, its approvals. */
import type { Projection } from "../types.ts";
import { PLAN_EVENT_TYPES } from "./fold.ts";
import { createPlansWriter } from "./sql.ts";

export { evolvePlanView, foldPlanView, PLAN_EVENT_TYPES, type PlanView } from "./fold.ts";
export * from "./queries.ts";
export type * from "./rows.ts";
export { createPlansWriter, upsertApprovals, upsertPlanSteps, upsertPlans } from "./sql.ts";

export const plansProjection: Projection = {
  name: "plans",
  tables: ["plan_steps", "approvals", "plans"],
  handles: PLAN_EVENT_TYPES,
  createWriter: () => createPlansWriter(),
};

/** Read model `plans` (+ `plan_steps`, `approvals`): a plan, its steps, its policy decision, its approvals. */
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { Projection, Tx } from "../types.ts";
import { evolvePlan, PLAN_EVENT_TYPES, type PlanView } from "./fold.ts";
import { loadPlanViews, savePlanViews } from "./sql.ts";

export { evolvePlan, PLAN_EVENT_TYPES, type PlanView } from "./fold.ts";
export * from "./queries.ts";
export { upsertApprovals, upsertPlanSteps, upsertPlans } from "./sql.ts";

export const plansProjection: Projection = {
  name: "plans",
  tables: ["plan_steps", "approvals", "plans"],
  handles: PLAN_EVENT_TYPES,
  async applyBatch(tx: Tx, events: readonly AnyRecordedEvent[]) {
    const ids = [...new Set(events.map((e) => e.aggregate_id))];
    const views = await loadPlanViews(tx, ids);
    const changed = new Map<string, PlanView>();
    for (const e of events) {
      const next = evolvePlan(views.get(e.aggregate_id) ?? null, e);
      if (next) {
        views.set(e.aggregate_id, next);
        changed.set(e.aggregate_id, next);
      }
    }
    await savePlanViews(tx, changed.values());
  },
};

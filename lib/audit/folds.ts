/**
 * The read-model projections' own folds, used by the as-of queries: an
 * aggregate replayed from JetStream up to a time and folded with exactly the
 * function the projector applies, so an as-of answer equals what the read
 * model held at that moment, by construction. The batch folds are O(1) per
 * event (copy on write), so replaying a long execution stays linear.
 */
import type { AnyRecordedEvent } from "../../events/index.ts";
import { type ExecutionView, foldExecution } from "../../projections/executions/fold.ts";
import { foldPlan, type PlanView } from "../../projections/plans/fold.ts";
import type { AsOfFolds } from "./queries.ts";

export type { ExecutionView, PlanView };

export const readModelFolds: AsOfFolds<PlanView, ExecutionView> = {
  plan: (events: readonly AnyRecordedEvent[]) => foldPlan(null, events),
  execution: (events: readonly AnyRecordedEvent[]) => foldExecution(null, events),
};

/**
 * The read-model projections' own folds, used by the as-of queries: an
 * aggregate replayed from JetStream up to a time and folded with exactly the
 * function the projector applies, so an as-of answer equals what the read
 * model held at that moment, by construction.
 */
import type { AnyRecordedEvent } from "../../events/index.ts";
import { type ExecutionView, evolveExecution } from "../../projections/executions/fold.ts";
import { evolvePlan, type PlanView } from "../../projections/plans/fold.ts";
import type { AsOfFolds } from "./queries.ts";

export type { ExecutionView, PlanView };

export const readModelFolds: AsOfFolds<PlanView, ExecutionView> = {
  plan: (events: readonly AnyRecordedEvent[]) => events.reduce<PlanView | null>(evolvePlan, null),
  execution: (events: readonly AnyRecordedEvent[]) => events.reduce<ExecutionView | null>(evolveExecution, null),
};

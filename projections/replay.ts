/**
 * The read models' own folds, for the audit trail's as-of queries: an
 * aggregate replayed from JetStream up to a time and folded with exactly the
 * function the projector applies, so an as-of answer equals what the read
 * model held at that moment, by construction. The batch folds are O(1) per
 * event (copy on write), so replaying a long execution stays linear.
 *
 * ```ts
 * const audit = createAuditQueries({ db, eventStore, evidenceStore, folds: readModelFolds });
 * ```
 */
import type { AnyRecordedEvent } from "../events/index.ts";
import type { AsOfFolds } from "../lib/audit/index.ts";
import { type ExecutionView, foldExecutionView } from "./executions/fold.ts";
import { foldPlanView, type PlanView } from "./plans/fold.ts";

export const readModelFolds: AsOfFolds<PlanView, ExecutionView> = {
  plan: (events: readonly AnyRecordedEvent[]) => foldPlanView(null, events),
  execution: (events: readonly AnyRecordedEvent[]) => foldExecutionView(null, events),
};

/**
 * The plan aggregate's rules, as a pure decider: `decide(command, state)`
 * returns the events a command yields (or throws a `WheelhouseError` naming
 * why it is refused), `evolve(state, event)` folds one recorded event into the
 * state, `initialState` is the state before the first event.
 *
 * The clock comes in with each command (`now`), so the decider never reads
 * time itself and a test can say exactly when something happened.
 *
 * Approvals bind to one plan revision: a new proposal (revision n+1) starts
 * with no approvals, and an approval given for revision n never counts for it.
 */
import { type AnyEvent, type EventMeta, newEvent } from "../../events/index.ts";
import type { ExecutionCommandDraft } from "./execution.ts";
import { decide } from "./plan-decide.ts";
import { evolve } from "./plan-evolve.ts";
import { initialState, type PlanEventDraft } from "./plan-types.ts";

export {
  approvalClosed,
  approvalDeadline,
  approvalRequirement,
  type DecidedPlan,
  describeMissing,
  type Quorum,
  type QuorumAnswer,
  quorumOf,
  tallyQuorum,
} from "./approval.ts";
export { countingApprovals, decide } from "./plan-decide.ts";
export { evolve, foldPlan } from "./plan-evolve.ts";
export type { ApprovalRecord, PlanCommand, PlanEventDraft, PlanState } from "./plan-types.ts";
export { initialState } from "./plan-types.ts";

/** The plan aggregate as a decider value; `type` names the stream the command path reads (`handleCommand`). */
export const planDecider = { type: "plan", decide, evolve, initialState } as const;

/**
 * Envelopes a decision's drafts for the store, recorded on `aggregateId` (the plan, or the execution
 * `RequestExecution` starts, or the execution decider's); `meta` says who, when and in which correlation.
 */
export function envelopeDrafts(
  drafts: readonly (PlanEventDraft | ExecutionCommandDraft)[],
  aggregateId: string,
  meta: Omit<EventMeta, "aggregate_type">,
): AnyEvent[] {
  return drafts.map(
    (d) => newEvent(d.type, aggregateId, d.payload as never, { ...meta, aggregate_type: d.aggregateType }) as AnyEvent,
  );
}

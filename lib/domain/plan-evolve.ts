/**
 * The plan aggregate's `evolve(state, event)`: folds one recorded event into
 * the state. A new proposal (revision n+1) starts with no approvals.
 */
import type { AnyEvent } from "../../events/index.ts";
import { assertNever, initialState, type PlanState, type Requested } from "./plan-types.ts";

function requestedPart(state: PlanState): Requested | null {
  return state.status === "empty" ? null : state;
}

/** Folds one event into the plan's state. Events of other aggregates and unknown ones leave it unchanged. */
export function evolve(state: PlanState, event: AnyEvent): PlanState {
  switch (event.type) {
    case "plan.requested":
      return {
        status: "requested",
        planId: event.payload.plan_id,
        requestedBy: event.actor,
        intent: event.payload.intent,
        environment: event.payload.environment,
        service: event.payload.service,
      };
    case "plan.proposed": {
      const base = requestedPart(state);
      if (!base) return state;
      return { ...pickRequested(base), status: "proposed", revision: event.payload.revision };
    }
    case "plan.failed": {
      const base = requestedPart(state);
      if (!base) return state;
      return { ...pickRequested(base), status: "failed", reasons: event.payload.reasons };
    }
    case "policy.decided": {
      const base = requestedPart(state);
      if (!base) return state;
      return {
        ...pickRequested(base),
        status: "decided",
        revision: event.payload.revision,
        policy: event.payload,
        approvalExpiresAt: null,
        approvalId: null,
        approvals: [],
        expiredApprovalIds: [],
      };
    }
    case "approval.requested":
      if (state.status !== "decided" || state.revision !== event.payload.revision) return state;
      return { ...state, approvalExpiresAt: event.payload.expires_at, approvalId: event.payload.approval_id };
    case "approval.granted":
    case "approval.denied":
      if (state.status !== "decided" || state.revision !== event.payload.revision) return state;
      return {
        ...state,
        approvals: [
          ...state.approvals,
          {
            approver: event.payload.approver,
            decision: event.type === "approval.granted" ? "granted" : "denied",
            at: event.occurred_at,
            approvalId: event.payload.approval_id,
          },
        ],
      };
    case "approval.expired":
      if (state.status !== "decided" || state.revision !== event.payload.revision) return state;
      return { ...state, expiredApprovalIds: [...state.expiredApprovalIds, event.payload.approval_id] };
    case "evidence.stored":
    case "execution.requested":
    case "execution.started":
    case "execution.step_started":
    case "execution.step_completed":
    case "execution.verified":
    case "execution.verification_failed":
    case "execution.rollback_started":
    case "execution.rolled_back":
    case "execution.succeeded":
    case "execution.failed":
    case "execution.cancelled":
    case "tool_call.started":
    case "tool_call.output":
    case "tool_call.completed":
    case "signal.received":
    case "context.node_upserted":
    case "context.node_removed":
    case "context.edge_upserted":
    case "context.edge_removed":
      return state;
    default:
      return assertNever(event);
  }
}

function pickRequested(r: Requested): Requested {
  return {
    planId: r.planId,
    requestedBy: r.requestedBy,
    intent: r.intent,
    environment: r.environment,
    service: r.service,
  };
}

/** Folds a plan's events, oldest first. */
export function foldPlan(events: readonly AnyEvent[]): PlanState {
  return events.reduce(evolve, initialState);
}

/**
 * The plan aggregate's `evolve(state, event)`: folds one recorded event into
 * the state. A new proposal (revision n+1) starts with no approvals.
 */
import type { AnyEvent } from "../../events/index.ts";
import { revisionDigest } from "./digest.ts";
import { assertNever, initialState, type PlanState, type Requested } from "./plan-types.ts";
import { workflowKindOf } from "./workflow-kind.ts";

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
        source: event.payload.source,
        environment: event.payload.environment,
        service: event.payload.service,
      };
    case "plan.proposed": {
      const base = requestedPart(state);
      if (!base) return state;
      return {
        ...pickRequested(base),
        status: "proposed",
        revision: event.payload.revision,
        digest: revisionDigest(event.payload),
        workflowType: workflowKindOf({ source: base.source, steps: event.payload.steps }),
      };
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
        // The digest of the revision this decision is for; a decision for another revision binds to none.
        digest: digestOf(state, event.payload.revision),
        workflowType: sameRevision(state, event.payload.revision)?.workflowType,
        policy: event.payload,
        decidedAt: event.occurred_at,
        approvalExpiresAt: null,
        approvalId: null,
        approvals: [],
        expiredAt: null,
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
            channel: event.payload.channel,
            digest: event.payload.digest,
            // The approver is the event's actor; a channel appending for someone else carries no groups.
            groups: event.actor.id === event.payload.approver ? (event.actor.groups ?? []) : [],
            breakGlass: event.type === "approval.granted" && event.payload.break_glass === true,
          },
        ],
      };
    case "approval.expired":
      if (state.status !== "decided" || state.revision !== event.payload.revision) return state;
      return { ...state, expiredAt: state.expiredAt ?? event.occurred_at };
    // The orchestrator's authorisation of a write moves the plan's version (the guard the next one is
    // appended against) and nothing else: approvals, expiry and revision stay as they are.
    case "plan.write_authorized":
    case "evidence.stored":
    case "execution.requested":
    case "execution.cancel_requested":
    case "execution.started":
    case "execution.step_started":
    case "execution.step_completed":
    case "execution.measured":
    case "execution.paused":
    case "execution.verdict_requested":
    case "execution.verified":
    case "execution.verification_failed":
    case "execution.rollback_started":
    case "execution.rolled_back":
    case "execution.succeeded":
    case "execution.failed":
    case "execution.cancelled":
    case "execution.notified":
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

/** `state` when it holds `revision` (proposed, or decided on the same revision). */
function sameRevision(state: PlanState, revision: number) {
  return (state.status === "proposed" || state.status === "decided") && state.revision === revision ? state : null;
}

/** The digest of `revision` when `state` holds it. */
function digestOf(state: PlanState, revision: number): string | null {
  return sameRevision(state, revision)?.digest ?? null;
}

function pickRequested(r: Requested): Requested {
  return {
    planId: r.planId,
    requestedBy: r.requestedBy,
    intent: r.intent,
    source: r.source,
    environment: r.environment,
    service: r.service,
  };
}

/** Folds a plan's events, oldest first. */
export function foldPlan(events: readonly AnyEvent[]): PlanState {
  return events.reduce(evolve, initialState);
}

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
import type { Actor, AnyEvent, EventPayload } from "../../events/index.ts";
import { ConflictError, ForbiddenError } from "../errors/index.ts";

type PolicyDecision = EventPayload<"policy.decided">;

/** One approver's answer for one revision. */
export interface ApprovalRecord {
  readonly approver: string;
  readonly decision: "granted" | "denied";
  readonly at: string;
  readonly approvalId: string;
}

interface Requested {
  readonly planId: string;
  readonly requestedBy: Actor;
  readonly intent: string;
  readonly environment?: string | undefined;
  readonly service?: string | undefined;
}

/** The plan's state, keyed on `status`. */
export type PlanState =
  | { readonly status: "empty" }
  | ({ readonly status: "requested" } & Requested)
  | ({ readonly status: "failed"; readonly reasons: readonly string[] } & Requested)
  | ({ readonly status: "proposed"; readonly revision: number } & Requested)
  | ({
      readonly status: "decided";
      readonly revision: number;
      readonly policy: PolicyDecision;
      /** Set by `approval.requested`; approvals after it do not count. */
      readonly approvalExpiresAt: string | null;
      readonly approvalId: string | null;
      readonly approvals: readonly ApprovalRecord[];
      readonly expiredApprovalIds: readonly string[];
    } & Requested);

export const initialState: PlanState = { status: "empty" };

/** What a command produces: events not yet enveloped (the caller adds ids, actor and correlation). */
export type PlanEventDraft =
  | {
      readonly type: "plan.requested";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"plan.requested">;
    }
  | {
      readonly type: "approval.granted";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"approval.granted">;
    }
  | {
      readonly type: "approval.denied";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"approval.denied">;
    }
  | {
      readonly type: "execution.requested";
      readonly aggregateType: "execution";
      readonly payload: EventPayload<"execution.requested">;
    };

export type PlanCommand =
  | {
      readonly type: "RequestPlan";
      readonly planId: string;
      readonly intent: string;
      readonly source: EventPayload<"plan.requested">["source"];
      readonly environment?: string | undefined;
      readonly service?: string | undefined;
      readonly signalId?: string | undefined;
      readonly actor: Actor;
      readonly now: Date;
    }
  | {
      readonly type: "GrantApproval";
      readonly planId: string;
      readonly revision: number;
      readonly actor: Actor;
      readonly via: "api" | "slack" | "linear";
      readonly comment?: string | undefined;
      /** Used when no `approval.requested` named one. */
      readonly approvalId: string;
      readonly now: Date;
    }
  | {
      readonly type: "DenyApproval";
      readonly planId: string;
      readonly revision: number;
      readonly actor: Actor;
      readonly via: "api" | "slack" | "linear";
      readonly comment?: string | undefined;
      readonly reason: string;
      readonly approvalId: string;
      readonly now: Date;
    }
  | {
      readonly type: "RequestExecution";
      readonly planId: string;
      readonly revision: number;
      readonly executionId: string;
      readonly dryRun?: boolean | undefined;
      readonly actor: Actor;
      readonly now: Date;
    };

function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}

function decidedState(state: PlanState, planId: string, revision: number, verb: string) {
  switch (state.status) {
    case "empty":
      throw new ConflictError(`plan ${planId} does not exist`, {
        field: "plan_id",
        fix: "create the plan with POST /v1/plans first",
        extra: { current_status: "empty" },
      });
    case "requested":
    case "proposed":
      throw new ConflictError(`plan ${planId} has no policy decision yet; it cannot be ${verb}`, {
        field: "plan_id",
        fix: "wait until the plan is proposed and decided (GET /v1/plans/{id}), then retry",
        extra: { current_status: state.status },
      });
    case "failed":
      throw new ConflictError(`plan ${planId} failed to plan; it cannot be ${verb}`, {
        field: "plan_id",
        fix: "request a new plan",
        extra: { current_status: "failed" },
      });
    case "decided":
      if (state.revision !== revision) {
        throw new ConflictError(`plan ${planId} is at revision ${state.revision}, not ${revision}`, {
          field: "revision",
          fix: `review revision ${state.revision} and send that number`,
          extra: { current_revision: state.revision },
        });
      }
      return state;
    default:
      return assertNever(state);
  }
}

/** Whether the policy decision lets the plan's requester approve it themselves. */
function selfApprovalAllowed(policy: PolicyDecision): boolean {
  return policy.constraints.self_approval === true;
}

function approvalDeadline(state: Extract<PlanState, { status: "decided" }>): string {
  return state.approvalExpiresAt ?? state.policy.expires_at;
}

/** Approvals that count for execution: granted, distinct approvers, not expired, none denied. */
export function countingApprovals(state: Extract<PlanState, { status: "decided" }>, now: Date): string[] {
  if (now.getTime() >= Date.parse(approvalDeadline(state))) return [];
  const approvers = new Set<string>();
  for (const a of state.approvals) {
    if (a.decision === "granted" && !state.expiredApprovalIds.includes(a.approvalId)) approvers.add(a.approver);
  }
  return [...approvers];
}

function decideApproval(
  command: Extract<PlanCommand, { type: "GrantApproval" | "DenyApproval" }>,
  state: PlanState,
): Extract<PlanState, { status: "decided" }> {
  const decided = decidedState(state, command.planId, command.revision, "approved");
  if (!command.actor.roles.includes("approver") && !command.actor.roles.includes("admin")) {
    throw new ForbiddenError(`${command.actor.id} may not approve plans`, {
      fix: "ask someone with the approver role",
    });
  }
  if (decided.policy.decision === "deny") {
    throw new ConflictError(`policy denied plan ${command.planId} revision ${command.revision}`, {
      field: "plan_id",
      fix: "change the request; a denied plan cannot be approved",
      extra: { decision: "deny", reasons: decided.policy.reasons },
    });
  }
  if (command.now.getTime() >= Date.parse(approvalDeadline(decided))) {
    throw new ConflictError(`the approval window for plan ${command.planId} closed at ${approvalDeadline(decided)}`, {
      field: "revision",
      fix: "request the plan again to get a fresh policy decision",
    });
  }
  if (decided.requestedBy.id === command.actor.id && !selfApprovalAllowed(decided.policy)) {
    throw new ForbiddenError(`${command.actor.id} requested plan ${command.planId} and may not approve it`, {
      field: "plan_id",
      fix: "ask another approver; policy does not allow self-approval here",
    });
  }
  if (decided.approvals.some((a) => a.approver === command.actor.id)) {
    throw new ConflictError(`${command.actor.id} already answered revision ${command.revision}`, {
      field: "revision",
      fix: "each approver answers a revision once",
    });
  }
  return decided;
}

export function decide(command: PlanCommand, state: PlanState): PlanEventDraft[] {
  switch (command.type) {
    case "RequestPlan": {
      if (state.status !== "empty") {
        throw new ConflictError(`plan ${command.planId} already exists`, {
          field: "plan_id",
          fix: "use a new plan id, or read the existing plan",
          extra: { current_status: state.status },
        });
      }
      return [
        {
          type: "plan.requested",
          aggregateType: "plan",
          payload: {
            plan_id: command.planId,
            intent: command.intent,
            source: command.source,
            ...(command.environment === undefined ? {} : { environment: command.environment }),
            ...(command.service === undefined ? {} : { service: command.service }),
            ...(command.signalId === undefined ? {} : { signal_id: command.signalId }),
          },
        },
      ];
    }
    case "GrantApproval": {
      const decided = decideApproval(command, state);
      return [
        {
          type: "approval.granted",
          aggregateType: "plan",
          payload: {
            plan_id: command.planId,
            revision: command.revision,
            approval_id: decided.approvalId ?? command.approvalId,
            approver: command.actor.id,
            via: command.via,
            ...(command.comment === undefined ? {} : { comment: command.comment }),
          },
        },
      ];
    }
    case "DenyApproval": {
      const decided = decideApproval(command, state);
      return [
        {
          type: "approval.denied",
          aggregateType: "plan",
          payload: {
            plan_id: command.planId,
            revision: command.revision,
            approval_id: decided.approvalId ?? command.approvalId,
            approver: command.actor.id,
            via: command.via,
            reason: command.reason,
            ...(command.comment === undefined ? {} : { comment: command.comment }),
          },
        },
      ];
    }
    case "RequestExecution": {
      const decided = decidedState(state, command.planId, command.revision, "executed");
      const policy = decided.policy;
      switch (policy.decision) {
        case "deny":
          throw new ForbiddenError(`policy denied plan ${command.planId} revision ${command.revision}`, {
            field: "plan_id",
            fix: "change the request; a denied plan cannot run",
            extra: { decision: "deny", reasons: policy.reasons },
          });
        case "allow":
          if (command.now.getTime() >= Date.parse(policy.expires_at)) {
            throw new ConflictError(`the policy decision for plan ${command.planId} expired at ${policy.expires_at}`, {
              field: "revision",
              fix: "request the plan again to get a fresh policy decision",
            });
          }
          break;
        case "require_approval": {
          const denied = decided.approvals.find((a) => a.decision === "denied");
          if (denied) {
            throw new ForbiddenError(`${denied.approver} denied revision ${command.revision}`, {
              field: "revision",
              fix: "a denied revision cannot run; request a new plan",
            });
          }
          const approvers = countingApprovals(decided, command.now);
          if (approvers.length < policy.approvers_required) {
            throw new ForbiddenError(
              `plan ${command.planId} revision ${command.revision} has ${approvers.length} of ${policy.approvers_required} approvals`,
              {
                field: "revision",
                fix: "collect the missing approvals (POST /v1/approvals) before executing",
                extra: { approvals: approvers.length, approvers_required: policy.approvers_required },
              },
            );
          }
          break;
        }
        default:
          return assertNever(policy.decision);
      }
      return [
        {
          type: "execution.requested",
          aggregateType: "execution",
          payload: {
            execution_id: command.executionId,
            plan_id: command.planId,
            revision: command.revision,
            dry_run: command.dryRun ?? false,
          },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

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

/** The plan aggregate as a decider value; `type` names the stream the command path reads (`handleCommand`). */
export const planDecider = { type: "plan", decide, evolve, initialState } as const;

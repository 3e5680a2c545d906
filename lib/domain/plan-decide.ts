/**
 * The plan aggregate's `decide(command, state)`: the events a command yields,
 * or a `WheelhouseError` naming why it is refused. The clock comes in with the
 * command (`now`); approvals count only for the revision they were given for.
 */
import { ConflictError, ForbiddenError } from "../errors/index.ts";
import {
  assertNever,
  type PlanCommand,
  type PlanEventDraft,
  type PlanState,
  type PolicyDecision,
} from "./plan-types.ts";

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

/**
 * The plan aggregate's `decide(command, state)`: the events a command yields,
 * or a `WheelhouseError` naming why it is refused. The clock comes in with the
 * command (`now`); approvals count only for the revision and the digest they
 * were given for (approval-decide.ts).
 */
import { ConflictError, ForbiddenError } from "../errors/index.ts";
import { describeMissing, quorumOf } from "./approval.ts";
import { assertDigest, decideApprovalRequest, decideDenial, decideExpiry, decideGrant } from "./approval-decide.ts";
import { decidedState } from "./plan-state.ts";
import { assertNever, type PlanCommand, type PlanEventDraft, type PlanState } from "./plan-types.ts";

/** Distinct approvers whose grants count for execution (this revision's digest, not expired). */
export function countingApprovals(state: Extract<PlanState, { status: "decided" }>, now: Date): string[] {
  if (now.getTime() >= Date.parse(state.policy.expires_at)) return [];
  return [...quorumOf(state).approvers];
}

/** What running a revision is checked on: `RequestExecution`, and `AuthorizeWrite` before each write. */
type RunCheck = Extract<PlanCommand, { type: "RequestExecution" | "AuthorizeWrite" }>;

function decideExecution(command: RunCheck, state: PlanState) {
  const decided = decidedState(state, command.planId, command.revision, "executed");
  if (command.digest !== undefined) assertDigest(decided, command.planId, command.digest, "executed");
  const policy = decided.policy;
  switch (policy.decision) {
    case "deny":
      throw new ForbiddenError(`policy denied plan ${command.planId} revision ${command.revision}`, {
        field: "plan_id",
        fix: "change the request; a denied plan cannot run",
        extra: { decision: "deny", reasons: policy.reasons },
      });
    case "allow":
      break;
    case "require_approval": {
      const denied = decided.approvals.find((a) => a.decision === "denied");
      if (denied) {
        throw new ForbiddenError(`${denied.approver} denied revision ${command.revision}`, {
          field: "revision",
          fix: "a denied revision cannot run; request a new plan",
        });
      }
      const expiredAt =
        decided.expiredAt ?? (command.now.getTime() >= Date.parse(policy.expires_at) ? policy.expires_at : null);
      if (expiredAt !== null) {
        throw new ForbiddenError(
          `the approval of plan ${command.planId} revision ${command.revision} expired at ${expiredAt}`,
          { field: "revision", fix: "request the plan again to get a fresh policy decision and approvals" },
        );
      }
      const quorum = quorumOf(decided);
      if (!quorum.met) {
        throw new ForbiddenError(
          `plan ${command.planId} revision ${command.revision} has ${quorum.approvers.length} approval(s) for its digest; it needs ${describeMissing(quorum)}`,
          {
            field: "revision",
            fix: "collect the missing approvals (POST /v1/approvals) before executing",
            extra: {
              approvals: quorum.approvers.length,
              approvers_required: policy.approvers_required,
              missing_approvers: quorum.missingApprovers,
              missing_groups: quorum.missingGroups,
              digest: decided.digest,
            },
          },
        );
      }
      break;
    }
    default:
      return assertNever(policy.decision);
  }
  if (command.now.getTime() >= Date.parse(policy.expires_at)) {
    throw new ConflictError(`the policy decision for plan ${command.planId} expired at ${policy.expires_at}`, {
      field: "revision",
      fix: "request the plan again to get a fresh policy decision",
    });
  }
  return decided;
}

/** One write of a running execution: allowed as the execution was, and not a step policy denied. */
function decideWrite(command: Extract<PlanCommand, { type: "AuthorizeWrite" }>, state: PlanState): PlanEventDraft[] {
  const decided = decideExecution(command, state);
  const step = decided.policy.steps.find((s) => s.step_id === command.stepId);
  if (step?.decision === "deny") {
    throw new ForbiddenError(`policy denied step ${command.stepId}: ${step.reasons.join("; ") || "no reason given"}`, {
      field: "step_id",
      fix: "a step policy denied cannot run; request a new plan",
    });
  }
  return [
    {
      type: "plan.write_authorized",
      aggregateType: "plan",
      payload: {
        plan_id: command.planId,
        revision: command.revision,
        // decideExecution checked the command's digest against the revision's: they are the same.
        digest: command.digest,
        execution_id: command.executionId,
        step_id: command.stepId,
        tool_call_id: command.toolCallId,
        action_id: command.actionId,
      },
    },
  ];
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
    case "RequestApproval":
      return decideApprovalRequest(command, state);
    case "GrantApproval":
      return decideGrant(command, state);
    case "DenyApproval":
      return decideDenial(command, state);
    case "ExpireApproval":
      return decideExpiry(command, state);
    case "RequestExecution": {
      const decided = decideExecution(command, state);
      return [
        {
          type: "execution.requested",
          aggregateType: "execution",
          payload: {
            execution_id: command.executionId,
            plan_id: command.planId,
            revision: command.revision,
            dry_run: command.dryRun ?? false,
            ...(command.startedBy === undefined ? {} : { started_by: command.startedBy }),
            // The orchestrator starts this type without reading the plan again.
            ...(decided.workflowType === undefined ? {} : { workflow_type: decided.workflowType }),
          },
        },
      ];
    }
    case "AuthorizeWrite":
      return decideWrite(command, state);
    default:
      return assertNever(command);
  }
}

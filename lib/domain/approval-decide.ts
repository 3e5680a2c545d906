/**
 * The plan decider's approval commands: `RequestApproval` (opens the pending
 * approval of a decided revision), `GrantApproval` / `DenyApproval` (an
 * approver's answer, bound to the revision's digest, from one channel) and
 * `ExpireApproval` (the expiry timer). Pure: the clock comes in with the command.
 */
import { ConflictError, ForbiddenError, ValidationError } from "../errors/index.ts";
import { approvalClosed, approvalDeadline, approvalRequirement, type DecidedPlan, quorumOf } from "./approval.ts";
import { decidedState } from "./plan-state.ts";
import type { PlanCommand, PlanEventDraft, PlanState } from "./plan-types.ts";

type Command<T extends PlanCommand["type"]> = Extract<PlanCommand, { type: T }>;

/** The digest check every answer and execution goes through: the caller must name the revision's digest. */
export function assertDigest(state: DecidedPlan, planId: string, digest: string, verb: string): void {
  if (state.digest === null) {
    throw new ConflictError(`plan ${planId} revision ${state.revision} has no valid digest; it cannot be ${verb}`, {
      field: "digest",
      fix: "request a new plan: its recorded digest does not match its steps",
    });
  }
  if (digest !== state.digest) {
    throw new ConflictError(
      `digest ${digest.slice(0, 12)}… is not the digest of plan ${planId} revision ${state.revision} (${state.digest.slice(0, 12)}…)`,
      {
        field: "digest",
        fix: "read the plan again (GET /v1/plans/{id}), review what changed, and answer with the digest it shows",
        extra: { current_digest: state.digest, current_revision: state.revision },
      },
    );
  }
}

/** Checks common to granting and denying; returns the decided state. */
function answerable(command: Command<"GrantApproval" | "DenyApproval">, state: PlanState): DecidedPlan {
  const verb = command.type === "GrantApproval" ? "approved" : "denied";
  const decided = decidedState(state, command.planId, command.revision, verb);
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
  if (approvalClosed(decided, command.now)) {
    const closedAt = decided.expiredAt ?? approvalDeadline(decided);
    throw new ConflictError(`the approval window for plan ${command.planId} closed at ${closedAt}`, {
      field: "revision",
      fix: "request the plan again to get a fresh policy decision",
      extra: { expired_at: closedAt },
    });
  }
  assertDigest(decided, command.planId, command.digest, verb);
  const requirement = approvalRequirement(decided.policy);
  if (decided.requestedBy.id === command.actor.id && !requirement.self_approval) {
    throw new ForbiddenError(`${command.actor.id} requested plan ${command.planId} and may not approve it`, {
      field: "plan_id",
      fix: "ask another approver; policy does not allow self-approval here",
      extra: { reason: "self_approval" },
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

/** The fields every answer records: the request's approval id when one was opened, else the command's. */
function answerPayload(command: Command<"GrantApproval" | "DenyApproval">, decided: DecidedPlan) {
  return {
    plan_id: command.planId,
    revision: command.revision,
    approval_id: decided.approvalId ?? command.approvalId,
    approver: command.actor.id,
    channel: command.channel,
    digest: command.digest,
    ...(command.comment === undefined ? {} : { comment: command.comment }),
  };
}

export function decideGrant(command: Command<"GrantApproval">, state: PlanState): PlanEventDraft[] {
  const decided = answerable(command, state);
  const requirement = approvalRequirement(decided.policy);
  if (!requirement.channels.includes(command.channel)) {
    throw new ForbiddenError(
      `a ${decided.policy.tier} plan cannot be approved from ${command.channel}; policy allows ${requirement.channels.join(", ") || "no channel"}`,
      {
        field: "channel",
        fix: `approve from one of: ${requirement.channels.join(", ") || "none (policy allows no approval)"}`,
        extra: { tier: decided.policy.tier, channels: requirement.channels },
      },
    );
  }
  let breakGlass: { break_glass: true; reason: string } | null = null;
  if (command.breakGlass !== undefined) {
    const reason = command.breakGlass.reason.trim();
    if (reason === "") {
      throw new ValidationError("a break-glass approval needs a reason", {
        field: "reason",
        fix: "say why this cannot wait for the normal approvers",
      });
    }
    if (!requirement.break_glass.allowed) {
      throw new ForbiddenError(`policy does not allow break-glass approval of plan ${command.planId}`, {
        field: "break_glass",
        fix: "collect the approvals policy requires",
        extra: { reason: "break_glass_not_allowed" },
      });
    }
    const groups = command.actor.groups ?? [];
    if (!groups.some((g) => requirement.break_glass.groups.includes(g))) {
      throw new ForbiddenError(`${command.actor.id} is in no break-glass group`, {
        field: "break_glass",
        fix: `break-glass approval needs membership of ${requirement.break_glass.groups.join(" or ") || "a break-glass group"}`,
        extra: { groups: requirement.break_glass.groups },
      });
    }
    breakGlass = { break_glass: true, reason };
  }
  return [
    {
      type: "approval.granted",
      aggregateType: "plan",
      payload: { ...answerPayload(command, decided), ...(breakGlass ?? {}) },
    },
  ];
}

export function decideDenial(command: Command<"DenyApproval">, state: PlanState): PlanEventDraft[] {
  const decided = answerable(command, state);
  return [
    {
      type: "approval.denied",
      aggregateType: "plan",
      payload: { ...answerPayload(command, decided), reason: command.reason },
    },
  ];
}

/** Opens the pending approval once per revision; nothing when policy needs none or it is open already. */
export function decideApprovalRequest(command: Command<"RequestApproval">, state: PlanState): PlanEventDraft[] {
  const decided = decidedState(state, command.planId, command.revision, "sent for approval");
  if (decided.policy.decision !== "require_approval" || decided.approvalId !== null) return [];
  const requirement = approvalRequirement(decided.policy);
  return [
    {
      type: "approval.requested",
      aggregateType: "plan",
      payload: {
        plan_id: command.planId,
        revision: command.revision,
        approval_id: command.approvalId,
        approvers_required: Math.max(
          1,
          requirement.approvers,
          requirement.groups.reduce((n, g) => n + g.count, 0),
        ),
        expires_at: approvalDeadline(decided),
        channels: [...requirement.channels],
        links: { ...command.links },
        ...(decided.digest === null ? {} : { digest: decided.digest }),
      },
    },
  ];
}

/**
 * The expiry timer's command: `approval.expired` once, when the window has passed and the revision
 * is still pending (no quorum, no denial). Early (a clock ahead of ours) is a conflict to retry.
 */
export function decideExpiry(command: Command<"ExpireApproval">, state: PlanState): PlanEventDraft[] {
  // A newer revision, or a plan that never reached a decision, leaves nothing of this revision to expire.
  if (state.status !== "decided" || state.revision !== command.revision) return [];
  if (state.policy.decision !== "require_approval" || state.expiredAt !== null) return [];
  if (state.approvals.some((a) => a.decision === "denied") || quorumOf(state).met) return [];
  const deadline = approvalDeadline(state);
  if (command.now.getTime() < Date.parse(deadline)) {
    throw new ConflictError(`the approval of plan ${command.planId} is open until ${deadline}`, {
      field: "revision",
      fix: "expire it at or after its deadline",
      extra: { expires_at: deadline },
    });
  }
  return [
    {
      type: "approval.expired",
      aggregateType: "plan",
      payload: {
        plan_id: command.planId,
        revision: command.revision,
        approval_id: state.approvalId ?? `${command.planId}-r${command.revision}`,
        ...(state.digest === null ? {} : { digest: state.digest }),
      },
    },
  ];
}

/**
 * Approval rules of a decided plan revision: who must approve it (policy's
 * requirement, with defaults for decisions recorded before policy returned
 * one), until when, and whether the answers given so far meet the quorum.
 */
import type { ApprovalChannel, ApprovalRequirement } from "../../events/index.ts";
import type { PlanState, PolicyDecision } from "./plan-types.ts";

export type DecidedPlan = Extract<PlanState, { status: "decided" }>;

const ALL_CHANNELS: readonly ApprovalChannel[] = ["api", "cli", "console", "slack", "linear"];

/** Policy's approval requirement for a decision; for one recorded without it, the equivalent of its older fields. */
export function approvalRequirement(policy: PolicyDecision): ApprovalRequirement {
  return (
    policy.approval ?? {
      approvers: policy.approvers_required,
      groups: [],
      self_approval: policy.constraints.self_approval === true,
      channels: [...ALL_CHANNELS],
      ttl_seconds: policy.ttl_seconds,
      break_glass: { allowed: false, groups: [] },
    }
  );
}

/**
 * When the revision stops taking grants: the earliest of the policy decision's `expires_at`,
 * the approval TTL from the decision, and the pending request's `expires_at`. A request can
 * shorten the window, never stretch it past the policy decision.
 */
export function approvalDeadline(state: DecidedPlan): string {
  const ttlMs = approvalRequirement(state.policy).ttl_seconds * 1000;
  const candidates = [Date.parse(state.policy.expires_at), Date.parse(state.decidedAt) + ttlMs];
  if (state.approvalExpiresAt !== null) candidates.push(Date.parse(state.approvalExpiresAt));
  return new Date(Math.min(...candidates)).toISOString();
}

/** Whether the revision's approval window is closed at `now` (expired by the timer, or past its deadline). */
export function approvalClosed(state: DecidedPlan, now: Date): boolean {
  return state.expiredAt !== null || now.getTime() >= Date.parse(approvalDeadline(state));
}

/** How far the answers so far are from the requirement. */
export interface Quorum {
  readonly met: boolean;
  /** Distinct approvers whose grants count (for this revision's digest, not expired). */
  readonly approvers: readonly string[];
  /** Set when a break-glass grant met the quorum alone: who gave it. */
  readonly breakGlassBy: string | null;
  /** People still needed overall. */
  readonly missingApprovers: number;
  /** Group slots no counted approver fills. */
  readonly missingGroups: ReadonlyArray<{ readonly group: string; readonly count: number }>;
}

/** One answer as the quorum counts it (a plan state's `ApprovalRecord`, or a read model's approver entry). */
export interface QuorumAnswer {
  readonly approver: string;
  readonly decision: "granted" | "denied";
  readonly digest: string | null;
  readonly groups: readonly string[];
  readonly breakGlass: boolean;
}

/**
 * The quorum of a decided revision: grants for its digest, one per person, none after
 * `approval.expired`. Each named group needs `count` distinct members, and one person fills
 * one group slot, so "one from sre and one from security" takes two people.
 */
export function quorumOf(state: DecidedPlan): Quorum {
  return tallyQuorum(approvalRequirement(state.policy), state.digest, state.approvals, state.expiredAt !== null);
}

/** `quorumOf` over plain data: the requirement, the revision's digest, its answers, whether it expired. */
export function tallyQuorum(
  requirement: ApprovalRequirement,
  digest: string | null,
  answers: readonly QuorumAnswer[],
  expired = false,
): Quorum {
  const counted = new Map<string, QuorumAnswer>();
  if (!expired && digest !== null) {
    for (const a of answers) {
      if (a.decision === "granted" && a.digest === digest && !counted.has(a.approver)) counted.set(a.approver, a);
    }
  }
  const approvers = [...counted.keys()];
  const breakGlass = requirement.break_glass.allowed
    ? [...counted.values()].find(
        (a) => a.breakGlass && a.groups.some((g) => requirement.break_glass.groups.includes(g)),
      )
    : undefined;
  if (breakGlass) {
    return { met: true, approvers, breakGlassBy: breakGlass.approver, missingApprovers: 0, missingGroups: [] };
  }
  const slots = requirement.groups.flatMap((g) => Array.from({ length: g.count }, () => g.group));
  const unfilled = unfilledSlots(slots, [...counted.values()]);
  const missingGroups: { group: string; count: number }[] = [];
  for (const group of unfilled) {
    const entry = missingGroups.find((m) => m.group === group);
    if (entry) entry.count++;
    else missingGroups.push({ group, count: 1 });
  }
  const needed = Math.max(requirement.approvers, slots.length);
  const missingApprovers = Math.max(0, needed - approvers.length, unfilled.length);
  return {
    met: missingApprovers === 0 && unfilled.length === 0,
    approvers,
    breakGlassBy: null,
    missingApprovers,
    missingGroups,
  };
}

/** Group slots left unfilled by the best assignment of approvers to slots (Kuhn's augmenting paths). */
function unfilledSlots(slots: readonly string[], approvals: readonly QuorumAnswer[]): string[] {
  const slotOf = new Map<number, number>(); // approval index → the slot it fills
  const assign = (slot: number, seen: Set<number>): boolean => {
    const group = slots[slot];
    for (let a = 0; a < approvals.length; a++) {
      if (seen.has(a) || group === undefined || !approvals[a]?.groups.includes(group)) continue;
      seen.add(a);
      const previous = slotOf.get(a);
      if (previous === undefined || assign(previous, seen)) {
        slotOf.set(a, slot);
        return true;
      }
    }
    return false;
  };
  for (let slot = 0; slot < slots.length; slot++) assign(slot, new Set());
  const filled = new Set(slotOf.values());
  return slots.filter((_, slot) => !filled.has(slot));
}

/** A human sentence for what is still missing ("1 more approver, 1 from security"). */
export function describeMissing(quorum: Quorum): string {
  const parts = [`${quorum.missingApprovers} more approver${quorum.missingApprovers === 1 ? "" : "s"}`];
  for (const g of quorum.missingGroups) parts.push(`${g.count} from ${g.group}`);
  return parts.join(", ");
}

/**
 * A plan's decision from its steps' decisions: the strictest decision, the
 * highest tier, the most approvers, the shortest TTL, and the steps' approval
 * requirements combined. Plus the fail-closed deny every failure turns into.
 */
import type * as v from "valibot";
import type { ApprovalRequirement } from "../../events/index.ts";
import type { Decision, PlanDecision, PolicyDecision, PolicyOutputSchema, Tier } from "./service.ts";

export function deny(reason: string, revision: string): PolicyDecision {
  return {
    decision: "deny",
    tier: "T3",
    reasons: [reason],
    approvers_required: 0,
    constraints: {},
    ttl: 0,
    approval: NO_APPROVAL,
    policy_revision: revision,
  };
}

const STRICTNESS: Record<Decision, number> = { allow: 0, require_approval: 1, deny: 2 };
const TIERS: readonly Tier[] = ["T0", "T1", "T2", "T3"];

export function combine(steps: PlanDecision["steps"], revision: string): PlanDecision {
  if (steps.length === 0) {
    return {
      ...deny("plan has no steps", revision),
      steps: [],
    };
  }
  let decision: Decision = "allow";
  let tierIndex = 0;
  let approvers = 0;
  let ttl = Number.POSITIVE_INFINITY;
  const reasons: string[] = [];
  for (const step of steps) {
    if (STRICTNESS[step.decision] > STRICTNESS[decision]) decision = step.decision;
    tierIndex = Math.max(tierIndex, TIERS.indexOf(step.tier));
    approvers = Math.max(approvers, step.approvers_required);
    ttl = Math.min(ttl, step.ttl);
    for (const reason of step.reasons) reasons.push(`${step.step_id}: ${reason}`);
  }
  return {
    decision,
    tier: TIERS[tierIndex] ?? "T3",
    reasons,
    approvers_required: decision === "deny" ? 0 : approvers,
    ttl: decision === "deny" ? 0 : ttl,
    approval: decision === "require_approval" ? combineApprovals(steps) : NO_APPROVAL,
    policy_revision: revision,
    steps,
  };
}

/** Nobody may approve: a deny, or a plan that needs no approval. */
const NO_APPROVAL: ApprovalRequirement = {
  approvers: 0,
  groups: [],
  self_approval: false,
  channels: [],
  ttl_seconds: 0,
  break_glass: { allowed: false, groups: [] },
};

/** What a decision without `approval` (a bundle from before it) meant: N people, any group, no chat. */
export function legacyRequirement(output: v.InferOutput<typeof PolicyOutputSchema>): ApprovalRequirement {
  if (output.decision !== "require_approval") return NO_APPROVAL;
  return {
    ...NO_APPROVAL,
    approvers: output.approvers_required,
    self_approval: output.constraints.self_approval === true,
    channels: ["api", "cli", "console"],
    ttl_seconds: output.ttl,
  };
}

/**
 * The plan's requirement from its steps that need approval: the most people, each group's
 * largest count, self-approval and break-glass only where every such step allows them (from the
 * groups they all name), the channels they all allow, the shortest TTL.
 */
export function combineApprovals(steps: ReadonlyArray<{ readonly approval: ApprovalRequirement }>) {
  const needing = steps.map((s) => s.approval).filter((a) => a.approvers > 0 || a.groups.length > 0);
  const [first, ...rest] = needing;
  if (first === undefined) return NO_APPROVAL;
  const groups = new Map<string, number>();
  for (const a of needing) for (const g of a.groups) groups.set(g.group, Math.max(groups.get(g.group) ?? 0, g.count));
  const every = (pick: (a: ApprovalRequirement) => readonly string[]) =>
    pick(first).filter((x) => rest.every((a) => pick(a).includes(x)));
  const breakGlassGroups = every((a) => a.break_glass.groups);
  return {
    approvers: Math.max(...needing.map((a) => a.approvers)),
    groups: [...groups].map(([group, count]) => ({ group, count })),
    self_approval: needing.every((a) => a.self_approval),
    channels: every((a) => a.channels) as ApprovalRequirement["channels"],
    ttl_seconds: Math.min(...needing.map((a) => a.ttl_seconds)),
    break_glass: {
      allowed: needing.every((a) => a.break_glass.allowed) && breakGlassGroups.length > 0,
      groups: breakGlassGroups,
    },
  } satisfies ApprovalRequirement;
}

/**
 * What a person deciding on a plan revision needs to see, wherever they work
 * (a Linear issue, a Slack message): the request, the typed steps, policy's
 * tier and reasons, the digest they approve, who answered through which
 * channel, and where the revision stands. Derived from the plan's own events
 * with the plan decider's fold, so every channel shows the same facts.
 */
import type {
  Actor,
  AnyRecordedEvent,
  ApprovalChannel,
  ApprovalRequirement,
  EventPayload,
  PlanStep,
} from "../../events/index.ts";
import {
  approvalDeadline,
  approvalRequirement,
  describeMissing,
  foldPlan,
  type Quorum,
  quorumOf,
} from "../domain/index.ts";

/** Where a revision's approval stands. */
export type ApprovalStatus = "pending" | "approved" | "denied" | "expired" | "not_required" | "refused_by_policy";

/** One person's answer as shown to others. */
export interface ApprovalAnswer {
  readonly approver: string;
  readonly decision: "granted" | "denied";
  readonly channel: ApprovalChannel;
  readonly at: string;
  readonly breakGlass: boolean;
  readonly comment: string | null;
  readonly reason: string | null;
}

export interface ApprovalView {
  readonly planId: string;
  readonly revision: number;
  readonly intent: string;
  readonly requestedBy: Actor;
  readonly summary: string;
  readonly steps: readonly PlanStep[];
  readonly tier: string;
  readonly decision: EventPayload<"policy.decided">["decision"];
  readonly reasons: readonly string[];
  readonly policyRevision: string;
  /** The digest an approver approves: null when the revision's recorded digest disagrees with its steps. */
  readonly digest: string | null;
  readonly requirement: ApprovalRequirement;
  /** When grants stop being taken. */
  readonly deadline: string;
  readonly status: ApprovalStatus;
  readonly answers: readonly ApprovalAnswer[];
  readonly quorum: Quorum;
  /** "1 more approver, 1 from security" while pending. */
  readonly missing: string | null;
  /** `approval.requested`'s links (the Linear issue, ...), when it was opened. */
  readonly links: Readonly<Record<string, string>>;
}

/**
 * The view of the plan's current revision, from the plan's events (oldest first); null until policy
 * has decided a revision.
 */
export function approvalView(events: readonly AnyRecordedEvent[]): ApprovalView | null {
  const state = foldPlan(events);
  if (state.status !== "decided") return null;
  const { revision } = state;
  let proposed: EventPayload<"plan.proposed"> | null = null;
  let links: Record<string, string> = {};
  const notes = new Map<string, { comment: string | null; reason: string | null }>();
  for (const e of events) {
    if (e.type === "plan.proposed" && e.payload.revision === revision) proposed = e.payload;
    if (e.type === "approval.requested" && e.payload.revision === revision) links = { ...e.payload.links };
    if ((e.type === "approval.granted" || e.type === "approval.denied") && e.payload.revision === revision) {
      const reason = e.type === "approval.denied" ? e.payload.reason : (e.payload.reason ?? null);
      notes.set(e.payload.approver, { comment: e.payload.comment ?? null, reason });
    }
  }
  const quorum = quorumOf(state);
  const denied = state.approvals.some((a) => a.decision === "denied");
  const status: ApprovalStatus =
    state.policy.decision === "allow"
      ? "not_required"
      : state.policy.decision === "deny"
        ? "refused_by_policy"
        : denied
          ? "denied"
          : quorum.met
            ? "approved"
            : state.expiredAt !== null
              ? "expired"
              : "pending";
  return {
    planId: state.planId,
    revision,
    intent: state.intent,
    requestedBy: state.requestedBy,
    summary: proposed?.summary ?? "",
    steps: proposed?.steps ?? [],
    tier: state.policy.tier,
    decision: state.policy.decision,
    reasons: state.policy.reasons,
    policyRevision: state.policy.policy_revision,
    digest: state.digest,
    requirement: approvalRequirement(state.policy),
    deadline: approvalDeadline(state),
    status,
    answers: state.approvals.map((a) => ({
      approver: a.approver,
      decision: a.decision,
      channel: a.channel,
      at: a.at,
      breakGlass: a.breakGlass,
      comment: notes.get(a.approver)?.comment ?? null,
      reason: notes.get(a.approver)?.reason ?? null,
    })),
    quorum,
    missing: status === "pending" ? describeMissing(quorum) : null,
    links,
  };
}

/** One line per step: `scale checkout in staging (kubectl.scale replicas=6)`. */
export function describeStep(step: PlanStep): string {
  const where = [step.target.service, step.target.namespace && `ns ${step.target.namespace}`, step.target.environment]
    .filter(Boolean)
    .join(", ");
  const input = Object.entries(step.input)
    .filter(([, value]) => value === null || typeof value !== "object")
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(" ");
  return `${step.action_id}${input ? ` ${input}` : ""} (${where})`;
}

/** Where an execution of the plan is, in a few words, from its events (oldest first). */
export function executionStatusOf(events: readonly AnyRecordedEvent[]): string | null {
  let status: string | null = null;
  for (const e of events) {
    switch (e.type) {
      case "execution.requested":
        status = e.payload.dry_run ? "dry run requested" : "execution requested";
        break;
      case "execution.started":
        status = "executing";
        break;
      case "execution.verified":
        status = "verified";
        break;
      case "execution.verification_failed":
        status = "verification failed";
        break;
      case "execution.rollback_started":
        status = "rolling back";
        break;
      case "execution.rolled_back":
        status = "rolled back";
        break;
      case "execution.succeeded":
        status = "succeeded";
        break;
      case "execution.failed":
        status = `failed${e.payload.reason ? `: ${e.payload.reason}` : ""}`;
        break;
      case "execution.cancelled":
        status = "cancelled";
        break;
      default:
        break;
    }
  }
  return status;
}

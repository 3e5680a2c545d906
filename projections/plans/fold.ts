/**
 * The plans read model as a pure fold: (plan view, event) → plan view. A
 * view is the plan row, its steps and its approvals.
 */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import { approvalRequirement, revisionDigest, tallyQuorum } from "../../lib/domain/index.ts";
import { type EventHandlers, handlerTable } from "../handlers.ts";
import type { ApprovalRow, PlanRow, PlanStepRow } from "./rows.ts";

/** Every event of the plan aggregate: its own, its policy decisions and its approvals. */
export type PlanEventType = Extract<EventType, `plan.${string}` | `policy.${string}` | `approval.${string}`>;

export interface PlanView {
  readonly plan: PlanRow;
  /** Keyed `${revision}:${step_id}`. */
  readonly steps: Readonly<Record<string, PlanStepRow>>;
  readonly approvals: Readonly<Record<string, ApprovalRow>>;
}

export const stepKey = (revision: number, stepId: string) => `${revision}:${stepId}`;

function emptyPlan(planId: string, e: AnyRecordedEvent): PlanRow {
  return {
    plan_id: planId,
    revision: null,
    status: "requested",
    intent: null,
    source: null,
    environment: null,
    service: null,
    signal_id: null,
    summary: null,
    digest: null,
    planner: null,
    failure_reasons: null,
    decision: null,
    tier: null,
    policy: null,
    approvals_required: 0,
    approvals_granted: 0,
    actor_id: e.actor.id,
    correlation_id: e.correlation_id,
    created_at: e.occurred_at,
    updated_at: e.occurred_at,
    last_seq: e.seq,
  };
}

function emptyApproval(id: string, planId: string, revision: number, e: AnyRecordedEvent): ApprovalRow {
  return {
    approval_id: id,
    plan_id: planId,
    revision,
    status: "pending",
    approvers_required: 1,
    approvers: [],
    channels: [],
    links: {},
    expires_at: null,
    reason: null,
    requested_at: e.occurred_at,
    decided_at: null,
    last_seq: e.seq,
  };
}

/**
 * A plan view while a fold writes it: the plan row is copied once per fold,
 * steps and approvals once on their first write (copy on write), then all
 * are updated in place.
 */
interface PlanDraft {
  readonly planId: string;
  readonly plan: PlanRow;
  /** Whether the plan had a row before the event being folded. */
  existed: boolean;
  steps: Record<string, PlanStepRow>;
  approvals: Record<string, ApprovalRow>;
  ownSteps: boolean;
  ownApprovals: boolean;
}

function stepsForWrite(draft: PlanDraft): Record<string, PlanStepRow> {
  if (!draft.ownSteps) {
    draft.steps = { ...draft.steps };
    draft.ownSteps = true;
  }
  return draft.steps;
}

function approvalsForWrite(draft: PlanDraft): Record<string, ApprovalRow> {
  if (!draft.ownApprovals) {
    draft.approvals = { ...draft.approvals };
    draft.ownApprovals = true;
  }
  return draft.approvals;
}

const planHandlers = {
  "plan.requested": (draft, event) => {
    const { plan } = draft;
    const p = event.payload;
    plan.status = "requested";
    plan.intent = p.intent;
    plan.source = p.source;
    plan.environment = p.environment ?? plan.environment;
    plan.service = p.service ?? plan.service;
    plan.signal_id = p.signal_id ?? null;
    plan.actor_id = event.actor.id;
    plan.correlation_id = event.correlation_id;
    if (!draft.existed) plan.created_at = event.occurred_at;
  },
  "plan.proposed": (draft, event) => {
    const { plan, planId } = draft;
    const p = event.payload;
    const into = stepsForWrite(draft);
    p.steps.forEach((s, position) => {
      into[stepKey(p.revision, s.step_id)] = {
        plan_id: planId,
        revision: p.revision,
        step_id: s.step_id,
        position,
        action_id: s.action_id,
        input: s.input,
        target: s.target,
        environment: s.target.environment,
        service: s.target.service ?? null,
        rationale: s.rationale,
        expected_effect: s.expected_effect ?? null,
        verification: s.verification ?? null,
        rollback: s.rollback ?? null,
        decision: null,
        tier: null,
        reasons: null,
        approvers_required: null,
        constraints: null,
      };
    });
    const first = p.steps[0]?.target;
    plan.status = "proposed";
    plan.revision = p.revision;
    plan.summary = p.summary;
    plan.digest = revisionDigest(p);
    plan.planner = p.planner;
    plan.failure_reasons = null;
    plan.decision = null;
    plan.tier = null;
    plan.policy = null;
    plan.approvals_required = 0;
    plan.approvals_granted = 0;
    plan.environment = plan.environment ?? first?.environment ?? null;
    plan.service = plan.service ?? first?.service ?? null;
  },
  "plan.failed": ({ plan }, event) => {
    plan.status = "failed";
    plan.failure_reasons = event.payload.reasons;
    plan.planner = event.payload.planner ?? plan.planner;
  },
  "policy.decided": (draft, event) => {
    const { plan } = draft;
    const p = event.payload;
    if (plan.revision !== null && p.revision !== plan.revision) return;
    for (const d of p.steps) {
      const k = stepKey(p.revision, d.step_id);
      const s = draft.steps[k];
      if (s) {
        stepsForWrite(draft)[k] = {
          ...s,
          decision: d.decision,
          tier: d.tier,
          reasons: d.reasons,
          approvers_required: d.approvers_required,
          constraints: d.constraints,
        };
      }
    }
    plan.revision = p.revision;
    plan.status = p.decision === "allow" ? "approved" : p.decision === "deny" ? "rejected" : "pending_approval";
    plan.decision = p.decision;
    plan.tier = p.tier;
    plan.policy = {
      reasons: p.reasons,
      constraints: p.constraints,
      ttl_seconds: p.ttl_seconds,
      expires_at: p.expires_at,
      policy_revision: p.policy_revision,
      approvers_required: p.approvers_required,
      approval: approvalRequirement(p),
      decided_at: event.occurred_at,
    };
    plan.approvals_required = p.approvers_required;
    plan.approvals_granted = 0;
  },
  "approval.requested": (draft, event) => {
    const p = event.payload;
    const prior = draft.approvals[p.approval_id] ?? emptyApproval(p.approval_id, draft.planId, p.revision, event);
    approvalsForWrite(draft)[p.approval_id] = {
      ...prior,
      revision: p.revision,
      approvers_required: p.approvers_required,
      channels: p.channels,
      links: p.links,
      expires_at: p.expires_at,
      requested_at: event.occurred_at,
      last_seq: event.seq,
    };
  },
  "approval.granted": (draft, event) => {
    const { plan } = draft;
    const p = event.payload;
    const prior = draft.approvals[p.approval_id] ?? emptyApproval(p.approval_id, draft.planId, p.revision, event);
    if (prior.status !== "pending" || prior.approvers.some((a) => a.approver === p.approver)) return;
    const approvers = [
      ...prior.approvers,
      {
        approver: p.approver,
        via: p.channel,
        digest: p.digest,
        groups: event.actor.id === p.approver ? [...(event.actor.groups ?? [])] : [],
        ...(p.break_glass === true ? { break_glass: true, reason: p.reason ?? null } : {}),
        comment: p.comment ?? null,
        at: event.occurred_at,
      },
    ];
    // Counted as the plan decider counts: grants for the current digest, by person, groups and break-glass.
    const quorum = p.revision === plan.revision ? currentQuorum(draft, approvers, p.approval_id) : null;
    const granted = quorum?.met ?? approvers.length >= prior.approvers_required;
    approvalsForWrite(draft)[p.approval_id] = {
      ...prior,
      approvers,
      status: granted ? "granted" : "pending",
      decided_at: granted ? event.occurred_at : null,
      last_seq: event.seq,
    };
    if (quorum) {
      plan.approvals_granted = quorum.approvers.length;
      if (plan.status === "pending_approval" && quorum.met) plan.status = "approved";
    }
  },
  "approval.denied": (draft, event) => {
    const { plan } = draft;
    const p = event.payload;
    const prior = draft.approvals[p.approval_id] ?? emptyApproval(p.approval_id, draft.planId, p.revision, event);
    approvalsForWrite(draft)[p.approval_id] = {
      ...prior,
      status: "denied",
      reason: p.reason,
      approvers: [...prior.approvers],
      decided_at: event.occurred_at,
      last_seq: event.seq,
    };
    if (p.revision === plan.revision && plan.status === "pending_approval") plan.status = "denied";
  },
  "approval.expired": (draft, event) => {
    const { plan } = draft;
    const p = event.payload;
    const prior = draft.approvals[p.approval_id] ?? emptyApproval(p.approval_id, draft.planId, p.revision, event);
    if (prior.status !== "pending") return;
    approvalsForWrite(draft)[p.approval_id] = {
      ...prior,
      status: "expired",
      decided_at: event.occurred_at,
      last_seq: event.seq,
    };
    if (p.revision === plan.revision && plan.status === "pending_approval") plan.status = "expired";
  },
  // The orchestrator's authorisation of one write: nothing in the plan's view changes, but the plan's
  // version (its ETag) moves with it, as it does on the stream.
  "plan.write_authorized": () => {},
} satisfies EventHandlers<PlanEventType, PlanDraft>;

/** The quorum of the plan's current revision, with `approvers` as the answers of approval `approvalId`. */
function currentQuorum(draft: PlanDraft, approvers: ApprovalRow["approvers"], approvalId: string) {
  const { plan } = draft;
  const policy = plan.policy as { approval?: Parameters<typeof tallyQuorum>[0] } | null;
  if (!policy?.approval) return null;
  const answers = Object.values(draft.approvals)
    .filter((a) => a.revision === plan.revision && a.approval_id !== approvalId)
    .flatMap((a) => a.approvers)
    .concat(approvers)
    .map((a) => ({
      approver: a.approver,
      decision: "granted" as const,
      digest: a.digest ?? null,
      groups: a.groups ?? [],
      breakGlass: a.break_glass === true,
    }));
  return tallyQuorum(policy.approval, plan.digest, answers, plan.status === "expired");
}

const plans = handlerTable<PlanEventType, PlanDraft>(planHandlers);

/** The event types the plans read model folds: its handlers' keys. */
export const PLAN_EVENT_TYPES: ReadonlySet<EventType> = plans.types;

/**
 * Folds one event into a plan view. Events of other types leave it
 * unchanged. Pure; to fold many events use `foldPlanView` (O(1) per event).
 */
export function evolvePlanView(view: PlanView | null, event: AnyRecordedEvent): PlanView | null {
  return foldPlanView(view, [event]);
}

/**
 * Folds events (one aggregate's, in stream order) into a plan view. Pure
 * from the caller's side: `view` is left as it was. The result's maps are
 * copied once, on first write, then updated in place (O(1) per event); rows
 * that did not change keep their identity, which tells a writer what to save.
 */
export function foldPlanView(view: PlanView | null, events: Iterable<AnyRecordedEvent>): PlanView | null {
  let draft: PlanDraft | null = null;
  for (const event of events) {
    if (!plans.handles(event)) continue;
    if (draft === null) {
      draft = {
        planId: event.aggregate_id,
        // The plan row is copied once per fold, then updated in place.
        plan: view ? { ...view.plan } : emptyPlan(event.aggregate_id, event),
        existed: view !== null,
        steps: (view?.steps ?? {}) as Record<string, PlanStepRow>,
        approvals: (view?.approvals ?? {}) as Record<string, ApprovalRow>,
        ownSteps: false,
        ownApprovals: false,
      };
    } else {
      draft.existed = true;
    }
    draft.plan.updated_at = event.occurred_at;
    draft.plan.last_seq = event.seq;
    plans.apply(draft, event);
  }
  if (draft === null) return view;
  return { plan: draft.plan, steps: draft.steps, approvals: draft.approvals };
}

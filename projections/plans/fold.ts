/**
 * The plans read model as a pure fold: (plan view, event) → plan view. A
 * view is the plan row, its steps and its approvals.
 */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import type { ApprovalRow, PlanRow, PlanStepRow } from "../../lib/db/types.ts";

export const PLAN_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  "plan.requested",
  "plan.proposed",
  "plan.failed",
  "policy.decided",
  "approval.requested",
  "approval.granted",
  "approval.denied",
  "approval.expired",
]);

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

/** Folds one event into a plan view. Events of other types leave it unchanged. */
export function evolvePlan(view: PlanView | null, event: AnyRecordedEvent): PlanView | null {
  if (!PLAN_EVENT_TYPES.has(event.type)) return view;
  const planId = event.aggregate_id;
  const base: PlanView = view ?? { plan: emptyPlan(planId, event), steps: {}, approvals: {} };
  const touched = { updated_at: event.occurred_at, last_seq: event.seq };
  const plan = base.plan;
  switch (event.type) {
    case "plan.requested": {
      const p = event.payload;
      return {
        ...base,
        plan: {
          ...plan,
          ...touched,
          status: "requested",
          intent: p.intent,
          source: p.source,
          environment: p.environment ?? plan.environment,
          service: p.service ?? plan.service,
          signal_id: p.signal_id ?? null,
          actor_id: event.actor.id,
          correlation_id: event.correlation_id,
          created_at: view ? plan.created_at : event.occurred_at,
        },
      };
    }
    case "plan.proposed": {
      const p = event.payload;
      const steps: Record<string, PlanStepRow> = { ...base.steps };
      p.steps.forEach((s, position) => {
        steps[stepKey(p.revision, s.step_id)] = {
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
      return {
        ...base,
        steps,
        plan: {
          ...plan,
          ...touched,
          status: "proposed",
          revision: p.revision,
          summary: p.summary,
          planner: p.planner,
          failure_reasons: null,
          decision: null,
          tier: null,
          policy: null,
          approvals_required: 0,
          approvals_granted: 0,
          environment: plan.environment ?? first?.environment ?? null,
          service: plan.service ?? first?.service ?? null,
        },
      };
    }
    case "plan.failed":
      return {
        ...base,
        plan: {
          ...plan,
          ...touched,
          status: "failed",
          failure_reasons: event.payload.reasons,
          planner: event.payload.planner ?? plan.planner,
        },
      };
    case "policy.decided": {
      const p = event.payload;
      if (plan.revision !== null && p.revision !== plan.revision) return { ...base, plan: { ...plan, ...touched } };
      const steps: Record<string, PlanStepRow> = { ...base.steps };
      for (const d of p.steps) {
        const k = stepKey(p.revision, d.step_id);
        const s = steps[k];
        if (s) {
          steps[k] = {
            ...s,
            decision: d.decision,
            tier: d.tier,
            reasons: d.reasons,
            approvers_required: d.approvers_required,
            constraints: d.constraints,
          };
        }
      }
      const status = p.decision === "allow" ? "approved" : p.decision === "deny" ? "rejected" : "pending_approval";
      return {
        ...base,
        steps,
        plan: {
          ...plan,
          ...touched,
          revision: p.revision,
          status,
          decision: p.decision,
          tier: p.tier,
          policy: {
            reasons: p.reasons,
            constraints: p.constraints,
            ttl_seconds: p.ttl_seconds,
            expires_at: p.expires_at,
            policy_revision: p.policy_revision,
            approvers_required: p.approvers_required,
            decided_at: event.occurred_at,
          },
          approvals_required: p.approvers_required,
          approvals_granted: 0,
        },
      };
    }
    case "approval.requested": {
      const p = event.payload;
      const prior = base.approvals[p.approval_id] ?? emptyApproval(p.approval_id, planId, p.revision, event);
      return {
        ...base,
        plan: { ...plan, ...touched },
        approvals: {
          ...base.approvals,
          [p.approval_id]: {
            ...prior,
            revision: p.revision,
            approvers_required: p.approvers_required,
            channels: p.channels,
            links: p.links,
            expires_at: p.expires_at,
            requested_at: event.occurred_at,
            last_seq: event.seq,
          },
        },
      };
    }
    case "approval.granted": {
      const p = event.payload;
      const prior = base.approvals[p.approval_id] ?? emptyApproval(p.approval_id, planId, p.revision, event);
      if (prior.status !== "pending" || prior.approvers.some((a) => a.approver === p.approver)) {
        return { ...base, plan: { ...plan, ...touched } };
      }
      const approvers = [
        ...prior.approvers,
        { approver: p.approver, via: p.via, comment: p.comment ?? null, at: event.occurred_at },
      ];
      const granted = approvers.length >= prior.approvers_required;
      const approval: ApprovalRow = {
        ...prior,
        approvers,
        status: granted ? "granted" : "pending",
        decided_at: granted ? event.occurred_at : null,
        last_seq: event.seq,
      };
      let next: PlanRow = { ...plan, ...touched };
      if (p.revision === plan.revision) {
        const count = plan.approvals_granted + 1;
        next = {
          ...next,
          approvals_granted: count,
          status: plan.status === "pending_approval" && count >= plan.approvals_required ? "approved" : plan.status,
        };
      }
      return { ...base, plan: next, approvals: { ...base.approvals, [p.approval_id]: approval } };
    }
    case "approval.denied": {
      const p = event.payload;
      const prior = base.approvals[p.approval_id] ?? emptyApproval(p.approval_id, planId, p.revision, event);
      const approval: ApprovalRow = {
        ...prior,
        status: "denied",
        reason: p.reason,
        approvers: [...prior.approvers],
        decided_at: event.occurred_at,
        last_seq: event.seq,
      };
      const deny = p.revision === plan.revision && plan.status === "pending_approval";
      return {
        ...base,
        plan: { ...plan, ...touched, status: deny ? "denied" : plan.status },
        approvals: { ...base.approvals, [p.approval_id]: approval },
      };
    }
    case "approval.expired": {
      const p = event.payload;
      const prior = base.approvals[p.approval_id] ?? emptyApproval(p.approval_id, planId, p.revision, event);
      if (prior.status !== "pending") return { ...base, plan: { ...plan, ...touched } };
      const expire = p.revision === plan.revision && plan.status === "pending_approval";
      return {
        ...base,
        plan: { ...plan, ...touched, status: expire ? "expired" : plan.status },
        approvals: {
          ...base.approvals,
          [p.approval_id]: { ...prior, status: "expired", decided_at: event.occurred_at, last_seq: event.seq },
        },
      };
    }
    default:
      return view;
  }
}

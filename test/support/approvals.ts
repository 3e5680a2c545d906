/**
 * A plan that needs approval, recorded as the planner and policy record one
 * (`plan.requested`, `plan.proposed` with its digest, `policy.decided` with
 * the approval requirement), for the approvals and ChatOps tests.
 */
import { randomUUID } from "node:crypto";
import type { Actor, AnyEvent, ApprovalChannel, ApprovalRequirement, PlanStep } from "../../events/index.ts";
import { newEvent } from "../../events/index.ts";
import { parseConfig } from "../../lib/config/index.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";

export interface PlanNeedingApproval {
  readonly planId: string;
  readonly revision: number;
  readonly digest: string;
  readonly steps: readonly PlanStep[];
  /** Policy's decision that it needs approval (appended already, unless `withoutDecision`). */
  readonly decision: AnyEvent;
}

export const POLICY_ACTOR: Actor = { kind: "service", id: "policy", roles: [] };

export async function recordPlanNeedingApproval(
  store: EventStore,
  options: {
    requester: Actor;
    planId?: string;
    intent?: string;
    tier?: "T0" | "T1" | "T2" | "T3";
    approvers?: number;
    groups?: ApprovalRequirement["groups"];
    channels?: readonly ApprovalChannel[];
    selfApproval?: boolean;
    ttlSeconds?: number;
    now?: Date;
    /** Record the request and proposal only: the caller appends `decision` when it wants. */
    withoutDecision?: boolean;
  },
): Promise<PlanNeedingApproval> {
  const planId = options.planId ?? randomUUID();
  const now = options.now ?? new Date();
  const steps: PlanStep[] = [
    {
      step_id: "s1",
      action_id: "kubectl.scale",
      input: { namespace: "shop", name: "checkout", replicas: 6 },
      target: { environment: "staging", service: "checkout", namespace: "shop" },
      rationale: "more replicas for the sale",
      rollback: { action_id: "kubectl.scale", input: { namespace: "shop", name: "checkout", replicas: 3 } },
    },
  ];
  const digest = planRevisionDigest(steps);
  const meta = (actor: Actor) => ({ actor, correlation_id: `corr-${planId}`, occurred_at: now.toISOString() });
  const ttl = options.ttlSeconds ?? 3600;
  const tier = options.tier ?? "T2";
  const approval: ApprovalRequirement = {
    approvers: options.approvers ?? 1,
    groups: options.groups ?? [],
    self_approval: options.selfApproval ?? false,
    channels: [...(options.channels ?? ["api", "cli", "console", "slack", "linear"])],
    ttl_seconds: ttl,
    break_glass: { allowed: false, groups: [] },
  };
  const intent = options.intent ?? "scale checkout to 6 in staging";
  await store.append(
    [
      newEvent(
        "plan.requested",
        planId,
        { plan_id: planId, intent, source: "api", environment: "staging", service: "checkout" },
        meta(options.requester),
      ),
    ],
    { expectedVersion: "none" },
  );
  await store.append([
    newEvent(
      "plan.proposed",
      planId,
      { plan_id: planId, revision: 1, summary: "scale checkout to 6", steps, planner: { kind: "template" }, digest },
      meta({ kind: "service", id: "planner", roles: [] }),
    ),
  ]);
  const decision = newEvent(
    "policy.decided",
    planId,
    {
      plan_id: planId,
      revision: 1,
      decision: "require_approval",
      tier,
      reasons: [`a ${tier} write in staging needs an approver`],
      approvers_required: approval.approvers,
      constraints: {},
      ttl_seconds: ttl,
      expires_at: new Date(now.getTime() + ttl * 1000).toISOString(),
      policy_revision: "test-policy-revision",
      steps: [
        {
          step_id: "s1",
          decision: "require_approval",
          tier,
          reasons: ["write"],
          approvers_required: approval.approvers,
          constraints: {},
          approval,
        },
      ],
      approval,
    },
    meta(POLICY_ACTOR),
  ) as AnyEvent;
  if (!options.withoutDecision) await store.append([decision]);
  return { planId, revision: 1, digest, steps, decision };
}

const linearDefaults = parseConfig({}).approvals.linear;

/** What the approvals service's Linear client takes to talk to a Linear fixture (approvals.linear's default labels). */
export function linearSettingsFor(linear: { readonly graphqlUrl: string; readonly apiKey: string }) {
  return { apiUrl: linear.graphqlUrl, apiKey: linear.apiKey, teamKey: "OPS", labels: linearDefaults.labels };
}

/** approvals.linear's default transitions: Approved / label approve grant, Rejected or Canceled / label deny deny. */
export const DEFAULT_TRANSITIONS = { grant: linearDefaults.grant, deny: linearDefaults.deny };

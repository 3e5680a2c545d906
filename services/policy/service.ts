/**
 * The policy service: decides every proposed plan revision with the compiled
 * Rego and records `policy.decided` on the plan. Exactly one decision per
 * revision, however often `plan.proposed` is delivered.
 */

import type { InferOutput } from "valibot";
import type { Actor, AnyRecordedEvent, PlanContextRef, PlanStep, RecordedEvent } from "../../events/index.ts";
import { newEvent, type PlanProposedSchema } from "../../events/index.ts";
import { planDecider } from "../../lib/domain/index.ts";
import { type EventStore, handleCommand } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { buildPolicyInput, type PolicyHpa, type PolicyService } from "../../lib/policy/index.ts";
import type { Catalog } from "../../lib/tools/index.ts";

export const POLICY_SERVICE_ACTOR: Actor = { kind: "service", id: "policy", roles: [] };

export interface PolicyDeciderDeps {
  readonly store: EventStore;
  readonly policy: PolicyService;
  readonly catalog: Catalog;
  readonly logger: Logger;
  /** Rollout stage from config; narrows the data document's stage. */
  readonly stage?: number | undefined;
  readonly now?: () => Date;
  /** Durable consumer name; several processes with one name share the work. */
  readonly durable?: string | undefined;
  /**
   * Live facts about a step's target from the service graph (current replica count, autoscaler,
   * blast radius), read once per plan; given the context snapshot the plan was made from, so that a
   * graph that changed since is named. Without it, bounds that need live state cannot be checked
   * and policy denies those steps.
   */
  readonly lookupContext?:
    | ((steps: readonly PlanStep[], madeFrom?: PlanContextRef | undefined) => Promise<StepContext[]>)
    | undefined;
}

/** What the service graph knows about a step's target. */
export interface StepContext {
  readonly current_replicas?: number | null | undefined;
  readonly blast_radius?: number | undefined;
  readonly hpa?: PolicyHpa | null | undefined;
  /** Set when the graph differs from the snapshot the plan was made from: the decision says so. */
  readonly graph_changed?: string | undefined;
}

type PlanProposed = RecordedEvent<"plan.proposed", InferOutput<typeof PlanProposedSchema>>;

export interface PolicyDecider {
  /** Decides one `plan.proposed` event; a no-op when that revision is already decided. */
  decide(event: PlanProposed): Promise<"decided" | "already_decided">;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createPolicyDecider(deps: PolicyDeciderDeps): PolicyDecider {
  const { store, policy, catalog, logger } = deps;
  const now = deps.now ?? (() => new Date());
  let consumption: { stop(): Promise<void> } | null = null;

  async function decide(event: PlanProposed): Promise<"decided" | "already_decided"> {
    const { plan_id, revision } = event.payload;
    // The idempotency key makes a redelivery (or a second replica racing this one) a no-op; the
    // expected version (the one read) makes a decision taken on a stale read impossible.
    const { appended, events } = await handleCommand(
      store,
      planDecider,
      plan_id,
      async (_state, { events: history }) => {
        if (history.some((e) => e.type === "policy.decided" && e.payload.revision === revision)) return [];
        return [await decisionFor(event, history)];
      },
      { idempotencyKey: `policy.decided:${plan_id}:${revision}` },
    );
    const decided = events[0];
    if (!appended || decided?.type !== "policy.decided") return "already_decided";
    const { decision, tier } = decided.payload;
    logger.info({ plan_id, revision, decision, tier, duplicate: appended.duplicate }, "plan decided");
    return appended.duplicate ? "already_decided" : "decided";
  }

  /** Evaluates the proposed revision's steps with the requester's rights and the service graph's facts. */
  async function decisionFor(event: PlanProposed, history: readonly AnyRecordedEvent[]) {
    const { plan_id, revision, steps } = event.payload;
    const requested = history.find((e) => e.type === "plan.requested");
    // The actor whose rights are checked is whoever asked for the change, not the planner that wrote it down.
    const requester = requested?.actor ?? event.actor;
    const source = requested?.type === "plan.requested" ? requested.payload.source : "api";
    const at = now();
    // One read of the service graph per plan, whatever its number of steps.
    const facts: StepContext[] = (await deps.lookupContext?.(steps, event.payload.context)) ?? [];
    const changed = [...new Set(facts.flatMap((f) => (f.graph_changed ? [f.graph_changed] : [])))];
    const inputs = steps.map((step, i) =>
      buildPolicyInput(step, catalog.get(step.action_id), requester, {
        plan_id,
        source,
        stage: deps.stage,
        now: at,
        current_replicas: facts[i]?.current_replicas,
        blast_radius: facts[i]?.blast_radius,
        hpa: facts[i]?.hpa,
      }),
    );
    const decision = policy.evaluatePlan(inputs);
    return newEvent(
      "policy.decided",
      plan_id,
      {
        plan_id,
        revision,
        decision: decision.decision,
        tier: decision.tier,
        reasons: [...decision.reasons, ...changed],
        approvers_required: decision.approvers_required,
        constraints: mergeConstraints(decision.steps),
        ttl_seconds: decision.ttl,
        expires_at: new Date(at.getTime() + decision.ttl * 1000).toISOString(),
        policy_revision: decision.policy_revision,
        approval: decision.approval,
        steps: decision.steps.map((s) => ({
          step_id: s.step_id,
          decision: s.decision,
          tier: s.tier,
          reasons: s.reasons,
          approvers_required: s.approvers_required,
          constraints: s.constraints,
          approval: s.approval,
        })),
      },
      { actor: POLICY_SERVICE_ACTOR, correlation_id: event.correlation_id, causation_id: event.id },
    );
  }

  return {
    decide,
    async start() {
      consumption = await store.consume({
        durable: deps.durable ?? "policy",
        filterTypes: ["plan.proposed"],
        handler: async (event: AnyRecordedEvent) => {
          if (event.type === "plan.proposed") await decide(event);
        },
      });
    },
    async stop() {
      await consumption?.stop();
      consumption = null;
    },
  };
}

/** Per-step constraints keyed by step id, so the executor can honour each one. */
function mergeConstraints(
  steps: ReadonlyArray<{ readonly step_id: string; readonly constraints: Record<string, unknown> }>,
): Record<string, unknown> {
  const byStep: Record<string, unknown> = {};
  for (const step of steps) byStep[step.step_id] = step.constraints;
  // Self-approval holds for the plan only when policy allows it for every step.
  const selfApproval = steps.length > 0 && steps.every((s) => s.constraints.self_approval === true);
  return { steps: byStep, ...(selfApproval ? { self_approval: true } : {}) };
}

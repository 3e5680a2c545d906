import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type AnyRecordedEvent, newEvent, type PlanContextRef, type PlanStep } from "../../events/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { snapshotOf, snapshotRef } from "../../lib/planner/index.ts";
import { buildPolicyBundle, POLICIES_DIR, resolveOpaBinary } from "../../lib/policy/build.ts";
import { createPolicyService, type PolicyService } from "../../lib/policy/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { createTestEventStore, type TestEventStore, uniqueName, waitFor } from "../../test/support/index.ts";
import { createPolicyDecider } from "./service.ts";
import { lookupInServiceGraph } from "./start.ts";

const logger = createLogger({ service: "policy-test", level: "silent" });
/** The service graph as the context service would report it: checkout runs 2 replicas. */
const lookupContext = async (steps: readonly PlanStep[]) => steps.map(() => ({ current_replicas: 2, blast_radius: 1 }));
const operator = { kind: "user" as const, id: "olivia@example.com", roles: ["operator" as const] };

function scaleStep(namespace: string, replicas: number): PlanStep {
  return {
    step_id: "s1",
    action_id: "kubectl.scale",
    input: { kind: "deployment", name: "checkout", namespace, replicas },
    target: { environment: "staging", service: "checkout", namespace },
    rationale: "more capacity for the sale",
  };
}

describe("policy service (real NATS, compiled wasm)", () => {
  let events: TestEventStore;
  let store: EventStore;
  let policy: PolicyService;
  let dir: string;
  const catalog = loadCatalog();

  before(async () => {
    const opa = resolveOpaBinary(process.env);
    assert.ok(opa, "opa is not installed: run scripts/setup");
    dir = mkdtempSync(join(tmpdir(), "wh-policy-svc-"));
    const bundlePath = join(dir, "bundle.tar.gz");
    await buildPolicyBundle({
      opa,
      sources: [join(POLICIES_DIR, "authz.rego"), join(POLICIES_DIR, "data.json")],
      outPath: bundlePath,
    });
    policy = await createPolicyService({ bundlePath, timeoutMs: 5_000, logger, watch: false });
    events = await createTestEventStore("polsvc", { logger });
    store = events.store;
  });

  after(async () => {
    await events.teardown();
    await policy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function proposePlan(
    steps: PlanStep[],
    context?: PlanContextRef,
  ): Promise<{ planId: string; proposed: AnyRecordedEvent }> {
    const planId = uniqueName("plan");
    const meta = { actor: operator, correlation_id: planId };
    await store.append(
      [newEvent("plan.requested", planId, { plan_id: planId, intent: "scale checkout", source: "api" }, meta)],
      { expectedVersion: "none" },
    );
    await store.append([
      newEvent(
        "plan.proposed",
        planId,
        {
          plan_id: planId,
          revision: 1,
          summary: "scale",
          steps,
          planner: { kind: "template" },
          ...(context ? { context } : {}),
        },
        { actor: { kind: "service", id: "planner", roles: [] }, correlation_id: planId },
      ),
    ]);
    const history = await store.readAggregate("plan", planId);
    const proposed = history.find((e) => e.type === "plan.proposed");
    assert.ok(proposed);
    return { planId, proposed };
  }

  const decisions = async (planId: string) =>
    (await store.readAggregate("plan", planId)).filter((e) => e.type === "policy.decided");

  it("decides a proposed plan from the stream, with the policy revision and the requester's rights", async () => {
    const decider = createPolicyDecider({ store, policy, catalog, logger, lookupContext });
    await decider.start();
    try {
      const { planId, proposed } = await proposePlan([scaleStep("shop", 4)]);
      const [decided] = await waitFor("policy.decided", async () => {
        const d = await decisions(planId);
        return d.length > 0 ? d : undefined;
      });
      assert.ok(decided?.type === "policy.decided");
      assert.equal(decided.payload.revision, 1);
      assert.equal(decided.payload.tier, "T1");
      assert.equal(decided.payload.decision, "require_approval", "stage 1: every write needs approval");
      assert.equal(decided.payload.policy_revision, policy.revision);
      assert.equal(decided.causation_id, proposed.id);
      assert.equal(decided.correlation_id, planId);
      assert.deepEqual(
        decided.payload.steps.map((s) => s.step_id),
        ["s1"],
      );
      // Who must approve, from the policy data: one person, any group, from any channel for T1.
      assert.deepEqual(decided.payload.approval, {
        approvers: 1,
        groups: [],
        self_approval: false,
        channels: ["api", "cli", "console", "slack", "linear"],
        ttl_seconds: 900,
        break_glass: { allowed: true, groups: ["break-glass"] },
      });
      assert.deepEqual(decided.payload.steps[0]?.approval, decided.payload.approval);
    } finally {
      await decider.stop();
    }
  });

  it("denies a step in a protected namespace, and the plan with it", async () => {
    const decider = createPolicyDecider({ store, policy, catalog, logger, lookupContext });
    const { planId, proposed } = await proposePlan([scaleStep("kube-system", 2)]);
    assert.equal(proposed.type, "plan.proposed");
    if (proposed.type !== "plan.proposed") return;
    await decider.decide(proposed);
    const [decided] = await decisions(planId);
    assert.ok(decided?.type === "policy.decided");
    assert.equal(decided.payload.decision, "deny");
    assert.ok(
      decided.payload.reasons.some((r) => /kube-system/.test(r)),
      decided.payload.reasons.join("; "),
    );
  });

  it("yields exactly one policy.decided when plan.proposed is delivered again, or to racing replicas", async () => {
    const { planId, proposed } = await proposePlan([scaleStep("shop", 3)]);
    if (proposed.type !== "plan.proposed") return assert.fail("expected plan.proposed");
    const a = createPolicyDecider({ store, policy, catalog, logger, lookupContext });
    const b = createPolicyDecider({ store, policy, catalog, logger, lookupContext });
    // Two replicas racing on the same delivery, then a plain redelivery.
    const outcomes = await Promise.allSettled([a.decide(proposed), b.decide(proposed)]);
    assert.ok(outcomes.some((o) => o.status === "fulfilled" && o.value === "decided"));
    assert.equal(await a.decide(proposed), "already_decided");

    // A redelivery through JetStream: a second durable consumer reads the same event again.
    let seen = 0;
    const counting: EventStore = {
      ...store,
      readAggregate: async (...args) => {
        if (args[1] === planId) seen++;
        return store.readAggregate(...args);
      },
    };
    const replay = createPolicyDecider({
      store: counting,
      policy,
      catalog,
      logger,
      lookupContext,
      durable: "policy_replay",
    });
    await replay.start();
    try {
      await waitFor("the redelivered plan.proposed to be handled", () => seen > 0);
    } finally {
      await replay.stop();
    }
    assert.equal((await decisions(planId)).length, 1);
  });
  it("decides on the live graph: the target's HPA bounds deny a count outside them; a graph changed since the plan's snapshot is named", async () => {
    const graph = [
      // The same name in another namespace of staging, with other bounds: not the step's target.
      {
        node_id: "svc_other_checkout",
        name: "checkout",
        environment: "staging",
        attributes: { namespace: "other", replicas: 1, hpa: { name: "checkout", min_replicas: 1, max_replicas: 3 } },
        edges: [],
        updated_at: "2026-01-01T00:00:00.000Z",
      },
      {
        node_id: "svc_shop_checkout",
        name: "checkout",
        environment: "staging",
        attributes: { namespace: "shop", replicas: 2, hpa: { name: "checkout", min_replicas: 2, max_replicas: 12 } },
        edges: [],
        updated_at: "2026-01-01T00:00:00.000Z",
      },
      {
        node_id: "svc_shop_web",
        name: "web",
        environment: "staging",
        attributes: { namespace: "shop" },
        edges: [{ kind: "depends_on", to: "svc_shop_checkout" }],
        updated_at: "2026-01-01T00:00:00.000Z",
      },
    ];
    const madeFrom = snapshotRef(snapshotOf(graph, { environment: "staging" }));
    const rows = graph.map((r) => ({ ...r }));
    const decider = createPolicyDecider({
      store,
      policy,
      catalog,
      logger,
      lookupContext: lookupInServiceGraph({ listContextServices: async () => rows }),
    });
    const decide = async (replicas: number) => {
      const { planId, proposed } = await proposePlan([scaleStep("shop", replicas)], madeFrom);
      if (proposed.type !== "plan.proposed") return assert.fail("expected plan.proposed");
      await decider.decide(proposed);
      const [decided] = await decisions(planId);
      if (decided?.type !== "policy.decided") return assert.fail("expected policy.decided");
      return decided.payload;
    };
    const inside = await decide(6);
    assert.equal(inside.decision, "require_approval", inside.reasons.join("; "));
    assert.ok(!inside.reasons.some((r) => r.includes("service graph changed")), inside.reasons.join("; "));
    const outside = await decide(13);
    assert.equal(outside.decision, "deny");
    assert.ok(
      outside.reasons.some((r) =>
        r.includes("replicas 13 are outside the bounds of HorizontalPodAutoscaler checkout (2-12)"),
      ),
      outside.reasons.join("; "),
    );
    // Someone scales checkout between planning and deciding: the decision says the graph changed.
    rows[1] = { ...graph[1], attributes: { ...graph[1]?.attributes, replicas: 3 } } as (typeof graph)[number];
    const drifted = await decide(6);
    assert.ok(
      drifted.reasons.some((r) =>
        r.startsWith(`the service graph changed since the plan was made (snapshot ${madeFrom.digest.slice(0, 12)}`),
      ),
      drifted.reasons.join("; "),
    );
  });
});

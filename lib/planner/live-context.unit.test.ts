/**
 * The planner on the live service graph: the template plans with the current replicas, image,
 * autoscaler bounds and dependents it is given, refuses a count the autoscaler would undo and a
 * service name two namespaces share, and every plan returns the snapshot it was made from; the
 * snapshot's digest depends on the graph, not on the order it was read in.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { loadCatalog } from "../tools/index.ts";
import {
  buildPrompt,
  createPlanner,
  type GraphService,
  type PlanningContext,
  PlanningFailedError,
  parseIntent,
  snapshotBody,
  snapshotOf,
  snapshotRef,
} from "./index.ts";

const catalog = loadCatalog();

const graph: GraphService[] = [
  {
    node_id: "svc_shop-staging_checkout",
    name: "checkout",
    environment: "staging",
    attributes: { namespace: "shop-staging", replicas: 2, ready_replicas: 2 },
    edges: [
      { kind: "depends_on", to: "svc_shop-staging_payments" },
      { kind: "depends_on", to: "svc_shop-staging_cart" },
    ],
  },
  {
    node_id: "svc_shop-staging_cart",
    name: "cart",
    environment: "staging",
    attributes: { namespace: "shop-staging", replicas: 2 },
    edges: [],
  },
  {
    node_id: "svc_shop-production_cart",
    name: "cart",
    environment: "production",
    attributes: { namespace: "shop-production", replicas: 4 },
    edges: [],
  },
];

const context = (extra: Partial<PlanningContext> = {}): PlanningContext => ({
  services: [
    {
      name: "checkout",
      environment: "staging",
      namespace: "shop-staging",
      kind: "deployment",
      workload: "checkout",
      replicas: 2,
      ready_replicas: 2,
      images: ["ghcr.io/wheelhouse-demo/checkout:1.4.2"],
      hpa: { name: "checkout", min_replicas: 2, max_replicas: 12 },
      depends_on: ["cart", "payments"],
    },
    { name: "cart", environment: "staging", namespace: "shop-staging", replicas: 2, dependents: ["checkout"] },
  ],
  snapshot: snapshotOf(graph, { environment: "staging" }, "context_nodes@1"),
  ...extra,
});

const plan = (intent: string, ctx: PlanningContext = context()) =>
  createPlanner({ catalog }).plan({ intent, source: "api", context: ctx });

describe("planner on the live service graph", () => {
  test("a scale plan states the current replicas, image, autoscaler and dependents, and returns its snapshot", async () => {
    const result = await plan("scale checkout to 6 in staging");
    const [get, scale] = result.plan.steps;
    assert.match(result.plan.summary, /to 6 replicas from 2/);
    assert.match(get?.rationale ?? "", /2 replicas \(2 ready\); image ghcr\.io\/wheelhouse-demo\/checkout:1\.4\.2/);
    assert.match(get?.rationale ?? "", /HorizontalPodAutoscaler checkout bounds 2-12; depends on cart, payments/);
    assert.match(scale?.expected_effect ?? "", /HorizontalPodAutoscaler checkout \(2-12\) may change the count later/);
    assert.deepEqual(scale?.input, {
      kind: "deployment",
      name: "checkout",
      namespace: "shop-staging",
      replicas: 6,
      current_replicas: 2,
    });
    assert.equal(result.context?.digest, context().snapshot?.digest);
    const cart = await plan("restart cart in staging");
    assert.match(cart.plan.steps[0]?.rationale ?? "", /checkout depends on it/);
  });

  test("a count outside the autoscaler's bounds is refused, naming the bounds and the fix", async () => {
    for (const [replicas, field] of [
      [13, "maxReplicas"],
      [1, "minReplicas"],
    ] as const) {
      await assert.rejects(plan(`scale checkout to ${replicas} in staging`), (error: unknown) => {
        assert.ok(error instanceof PlanningFailedError);
        assert.match(
          error.message,
          new RegExp(
            `checkout in shop-staging is scaled by HorizontalPodAutoscaler checkout between 2 and 12 replicas, which would undo a count of ${replicas}: ask for 2 to 12 replicas, or change the autoscaler's ${field} first`,
          ),
        );
        return true;
      });
    }
    // Within the bounds, and without an autoscaler, no such limit.
    assert.equal((await plan("scale checkout to 12 in staging")).plan.steps.length, 2);
    assert.equal((await plan("scale cart to 20 in staging")).plan.steps.length, 2);
  });

  test("a service in two namespaces of the environment is refused unless the intent names one", async () => {
    const twice = context({
      services: [
        { name: "cart", environment: "staging", namespace: "shop-staging", replicas: 2 },
        { name: "cart", environment: "staging", namespace: "shop-b", replicas: 3 },
      ],
    });
    await assert.rejects(
      plan("scale cart to 4 in staging", twice),
      /cart runs in 2 namespaces of staging \(shop-staging, shop-b\): name one/,
    );
    const chosen = await plan("scale cart to 4 in staging namespace shop-b", twice);
    assert.equal(chosen.plan.steps[1]?.input.current_replicas, 3);
  });

  test("an environment given as env=..., environment: ... or (env ...) is read", () => {
    for (const text of [
      "scale checkout to 6 env=staging",
      "scale checkout to 6 environment: staging",
      "scale checkout to 6 (env staging)",
    ]) {
      const parsed = parseIntent(text);
      assert.ok(parsed.ok, text);
      assert.equal(parsed.intent.environment, "staging", text);
      assert.equal(parsed.intent.service, "checkout", text);
    }
  });

  test("the prompt carries the services and edges (not the snapshot a second time) and the rule on autoscaler bounds", () => {
    const prompt = buildPrompt(catalog, { intent: "scale checkout to 6 in staging", source: "api" }, context());
    assert.match(prompt.user, /"max_replicas": 12/);
    assert.doesNotMatch(prompt.user, /"digest"|"snapshot"/);
    assert.match(prompt.system, /Never scale a service outside its hpa's min_replicas\.\.max_replicas/);
  });

  test("the planner reads the graph scoped to the environment and service the intent names", async () => {
    const seen: unknown[] = [];
    const planner = createPlanner({
      catalog,
      getContext: async (request) => {
        seen.push({ environment: request.environment, service: request.service });
        return context();
      },
    });
    await planner.plan({ intent: "scale checkout to 6 in staging", source: "cli" });
    assert.deepEqual(seen, [{ environment: "staging", service: "checkout" }]);
  });
});

describe("context snapshot", () => {
  test("the digest is of the scope's nodes and edges, whatever order they were read in", () => {
    const a = snapshotOf(graph, { environment: "staging" });
    const b = snapshotOf(
      [...graph].reverse().map((s) => ({ ...s, edges: [...s.edges].reverse() })),
      {
        environment: "staging",
      },
    );
    assert.equal(a.digest, b.digest);
    assert.deepEqual(
      a.nodes.map((n) => n.node_id),
      ["svc_shop-staging_cart", "svc_shop-staging_checkout"],
    );
    assert.equal(a.edges.length, 2);
    // The stored body is what the digest is of: its sha256 is the digest.
    assert.equal(createHash("sha256").update(snapshotBody(a)).digest("hex"), a.digest);
    // Another environment, the whole graph, or a changed fact is another digest.
    assert.notEqual(snapshotOf(graph, { environment: "production" }).digest, a.digest);
    assert.notEqual(snapshotOf(graph, {}).digest, a.digest);
    const scaled = graph.map((s) =>
      s.name === "cart" && s.environment === "staging" ? { ...s, attributes: { ...s.attributes, replicas: 3 } } : s,
    );
    assert.notEqual(snapshotOf(scaled, { environment: "staging" }).digest, a.digest);
    // Environments compare by their canonical names.
    assert.equal(snapshotOf(graph, { environment: "prod" }).nodes.length, 1);
  });

  test("the reference plan.proposed records names digest, scope, counts, evidence and where it was read", () => {
    const s = snapshotOf(graph, { environment: "staging" }, "context_nodes@2026-01-01T00:00:00.000Z");
    assert.deepEqual(snapshotRef(s, "ev-1"), {
      digest: s.digest,
      scope: { environment: "staging" },
      nodes: 2,
      edges: 2,
      evidence_id: "ev-1",
      ref: "context_nodes@2026-01-01T00:00:00.000Z",
    });
    assert.equal(snapshotRef(s).evidence_id, undefined);
  });
});

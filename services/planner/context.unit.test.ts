/**
 * The planner's reader of the context read model: service nodes as the context service records
 * them (services/context/graph/build.ts) become what the template and the prompt read, and the
 * context carries the snapshot of every node of the environment it read.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { snapshotOf } from "../../lib/planner/index.ts";
import { createContextReader, toServiceContext } from "./context.ts";

/** Rows as `listContextServices` answers them for the demo shop installed by `npm start`. */
const rows = [
  {
    node_id: "svc_shop-staging_checkout",
    name: "checkout",
    environment: "staging",
    attributes: {
      namespace: "shop-staging",
      part_of: "shop",
      replicas: 2,
      ready_replicas: 2,
      images: ["ghcr.io/wheelhouse-demo/checkout:1.4.2"],
      workloads: ["Deployment/checkout"],
      kubernetes_services: ["checkout"],
      hpa: { name: "checkout", min_replicas: 2, max_replicas: 12, current_replicas: 2, desired_replicas: 2 },
    },
    edges: [
      { kind: "depends_on", to: "svc_shop-staging_cart" },
      { kind: "depends_on", to: "svc_shop-staging_payments" },
      { kind: "runs_as", to: "wl_shop-staging_deployment_checkout" },
    ],
    updated_at: "2026-01-01T00:00:02.000Z",
  },
  {
    node_id: "svc_shop-staging_payments",
    name: "payments",
    environment: "staging",
    attributes: {
      namespace: "shop-staging",
      replicas: 2,
      ready_replicas: 1,
      images: ["ghcr.io/wheelhouse-demo/payments:2.0.1"],
      workloads: ["Deployment/payments"],
      chart: { release: "payments", name: "payments", version: "0.1.0", revision: 3, status: "deployed" },
      application: { name: "payments-staging", sync_status: "Synced", health: "Healthy", revision: "abc123" },
    },
    edges: [{ kind: "deployed_by", to: "rel_shop-staging_payments" }],
    updated_at: "2026-01-01T00:00:01.000Z",
  },
  {
    node_id: "svc_shop-staging_cart",
    name: "cart",
    environment: "staging",
    attributes: { namespace: "shop-staging", replicas: 2, workloads: ["Deployment/cart", "StatefulSet/cart-db"] },
    edges: [],
    updated_at: "2026-01-01T00:00:00.000Z",
  },
  {
    node_id: "svc_shop-production_checkout",
    name: "checkout",
    environment: "production",
    attributes: { namespace: "shop-production", replicas: 6 },
    edges: [],
    updated_at: "2026-01-01T00:00:09.000Z",
  },
];

describe("planner context reader", () => {
  test("a service node becomes the facts the planner reads: workload, replicas, image, HPA, release, app, edges", () => {
    const names = new Map(rows.map((r) => [r.node_id, r.name]));
    assert.deepEqual(toServiceContext(rows[0] as (typeof rows)[number], names, []), {
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
    });
    const payments = toServiceContext(rows[1] as (typeof rows)[number], names, ["checkout"]);
    assert.deepEqual(payments?.helm, {
      release: "payments",
      chart_name: "payments",
      version: "0.1.0",
      revision: 3,
      status: "deployed",
    });
    assert.deepEqual(payments?.argocd, { app: "payments-staging", revision: "abc123" });
    assert.deepEqual(payments?.dependents, ["checkout"]);
    // Two workloads: which one to act on is not guessed.
    const cart = toServiceContext(rows[2] as (typeof rows)[number]);
    assert.equal(cart?.kind, undefined);
    assert.equal(cart?.workload, undefined);
    assert.equal(toServiceContext({ ...(rows[2] as (typeof rows)[number]), environment: null }), null);
  });

  test("the context is the request's environment, the requested service first, with the snapshot of what was read", async () => {
    const read = createContextReader(async () => rows);
    const ctx = await read({
      intent: "restart payments in staging",
      source: "cli",
      environment: "staging",
      service: "payments",
    });
    assert.deepEqual(
      ctx.services?.map((s) => s.name),
      ["payments", "checkout", "cart"],
    );
    assert.deepEqual(ctx.services?.find((s) => s.name === "cart")?.dependents, ["checkout"]);
    assert.equal(ctx.ref, "context_nodes@2026-01-01T00:00:02.000Z");
    assert.deepEqual(
      (ctx.edges as { from: string; kind: string; to: string }[]).find(
        (e) => e.from === "checkout" && e.kind === "depends_on",
      ),
      {
        from: "checkout",
        kind: "depends_on",
        to: "cart",
      },
    );
    assert.equal(ctx.snapshot?.digest, snapshotOf(rows, { environment: "staging" }).digest);
    assert.equal(ctx.snapshot?.nodes.length, 3);
    assert.equal(ctx.snapshot?.edges.length, 4);
    // No environment: every service is read; an empty graph is an empty snapshot, still recorded.
    assert.equal((await read({ intent: "x", source: "cli" })).snapshot?.nodes.length, 4);
    const empty = await createContextReader(async () => [])({ intent: "x", source: "cli", environment: "staging" });
    assert.deepEqual(empty.services, []);
    assert.equal(empty.snapshot?.nodes.length, 0);
  });
});

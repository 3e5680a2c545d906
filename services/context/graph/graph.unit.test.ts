import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AnyEvent, AnyRecordedEvent, ContextNode } from "../../../events/index.ts";
import { ConflictError } from "../../../lib/errors/index.ts";
import type { EventStore } from "../../../lib/eventstore/index.ts";
import { createLogger } from "../../../lib/log/index.ts";
import type { HelmReleaseFact } from "../facts.ts";
import { buildGraph, emptyWorld, type World } from "./build.ts";
import { applicationId, cloudResourceId, datasourceId, nodeId, releaseId, serviceId, workloadId } from "./ids.ts";
import { decideNode, evolveNode, initialNodeState } from "./node.ts";
import { createRecorder } from "./record.ts";

const meta = (
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
) => ({
  namespace,
  name,
  labels,
  annotations,
});
const deployment = (namespace: string, name: string, extra: Partial<World["workloads"][number]> = {}) => ({
  ...meta(namespace, name, { "app.kubernetes.io/name": name }),
  kind: "Deployment" as const,
  replicas: 2,
  readyReplicas: 2,
  updatedReplicas: 2,
  images: [`registry.example.com/${name}:1.0.0`],
  ...extra,
});
const release: HelmReleaseFact = {
  namespace: "shop",
  name: "checkout",
  revision: 3,
  status: "deployed",
  chart: "checkout",
  chartVersion: "1.2.0",
  appVersion: "2.0.0",
  valuesDigest: "sha256:00",
};

const world: World = {
  ...emptyWorld,
  namespaces: [
    {
      name: "shop",
      labels: { "wheelhouse.dev/environment": "production" },
      annotations: { "wheelhouse.dev/observed-by": "Prometheus" },
    },
  ],
  workloads: [
    deployment("shop", "checkout", {
      labels: { "app.kubernetes.io/name": "checkout", "app.kubernetes.io/managed-by": "Helm" },
      annotations: {
        "meta.helm.sh/release-name": "checkout",
        "wheelhouse.dev/depends-on": "cart, payments, arn:aws:rds:eu-west-1:1:db:orders",
      },
    }),
    deployment("shop", "cart", {
      labels: { "app.kubernetes.io/name": "cart", "argocd.argoproj.io/instance": "cart-prod" },
    }),
  ],
  services: [{ ...meta("shop", "checkout-http", { "app.kubernetes.io/name": "checkout" }), type: "ClusterIP" }],
  hpas: [
    {
      ...meta("shop", "checkout"),
      target: { kind: "Deployment", name: "checkout" },
      minReplicas: 2,
      maxReplicas: 10,
      currentReplicas: 2,
      desiredReplicas: 2,
    },
  ],
  pods: [
    {
      namespace: "shop",
      name: "checkout-1",
      owner: { kind: "Deployment", name: "checkout" },
      ready: true,
      phase: "Running",
    },
    {
      namespace: "shop",
      name: "checkout-2",
      owner: { kind: "Deployment", name: "checkout" },
      ready: false,
      phase: "Pending",
    },
  ],
  releases: [release],
  applications: [
    {
      namespace: "argocd",
      name: "cart-prod",
      syncStatus: "Synced",
      health: "Healthy",
      revision: "abc",
      destination: { server: null, namespace: "shop" },
      source: { repoURL: null, path: null, chart: null, targetRevision: null },
    },
  ],
  cloudResources: [
    {
      arn: "arn:aws:rds:eu-west-1:1:db:orders",
      service: "rds",
      resourceType: "db",
      region: "eu-west-1",
      account: "1",
      name: "orders",
      tags: {},
    },
    {
      arn: "arn:aws:elasticache:eu-west-1:1:cluster:sessions",
      service: "elasticache",
      resourceType: "cluster",
      region: "eu-west-1",
      account: "1",
      name: "sessions",
      tags: { "wheelhouse:service": "cart", "wheelhouse:environment": "production" },
    },
  ],
  datasources: [{ uid: "prom", name: "Prometheus", type: "prometheus", url: null, isDefault: true }],
};

const edgesOf = (g: ReturnType<typeof buildGraph>, id: string) =>
  (g.edges.get(id) ?? []).map((e) => `${e.kind} ${e.to_node}`).sort();

describe("buildGraph", () => {
  const g = buildGraph(world);

  it("joins a service to its workloads, release, application, dependencies and datasource", () => {
    const checkout = serviceId("shop", "checkout");
    assert.deepEqual(edgesOf(g, checkout), [
      `depends_on ${cloudResourceId("arn:aws:rds:eu-west-1:1:db:orders")}`,
      `depends_on ${serviceId("shop", "cart")}`,
      `deployed_by ${releaseId("shop", "checkout")}`,
      `observed_by ${datasourceId("prom")}`,
      `runs_as ${workloadId("shop", "Deployment", "checkout")}`,
    ]);
    assert.deepEqual(edgesOf(g, serviceId("shop", "cart")), [
      `depends_on ${cloudResourceId("arn:aws:elasticache:eu-west-1:1:cluster:sessions")}`,
      `deployed_by ${applicationId("argocd", "cart-prod")}`,
      `observed_by ${datasourceId("prom")}`,
      `runs_as ${workloadId("shop", "Deployment", "cart")}`,
    ]);
  });

  it("gives the service its live replicas, images, chart, HPA and environment; pods only count", () => {
    const node = g.nodes.get(serviceId("shop", "checkout"));
    assert.equal(node?.environment, "production");
    assert.deepEqual(
      { ...node?.attributes },
      {
        namespace: "shop",
        replicas: 2,
        ready_replicas: 2,
        images: ["registry.example.com/checkout:1.0.0"],
        workloads: ["Deployment/checkout"],
        kubernetes_services: ["checkout-http"],
        hpa: { name: "checkout", min_replicas: 2, max_replicas: 10, current_replicas: 2, desired_replicas: 2 },
        chart: {
          release: "checkout",
          name: "checkout",
          version: "1.2.0",
          app_version: "2.0.0",
          revision: 3,
          status: "deployed",
        },
      },
    );
    assert.deepEqual(g.nodes.get(workloadId("shop", "Deployment", "checkout"))?.attributes.pods, {
      total: 2,
      ready: 1,
    });
    assert.equal([...g.nodes.values()].filter((n) => n.name.startsWith("checkout-")).length, 0, "no pod is a node");
  });

  it("leaves out an edge to a node no source sees, and keeps edges to carried nodes", () => {
    assert.ok(!edgesOf(g, serviceId("shop", "checkout")).some((e) => e.includes("payments")));
    const payments: ContextNode = {
      node_id: serviceId("shop", "payments"),
      kind: "service",
      name: "payments",
      attributes: {},
      source: "kubernetes",
    };
    const carried = buildGraph(world, [payments]);
    assert.ok(edgesOf(carried, serviceId("shop", "checkout")).includes(`depends_on ${payments.node_id}`));
  });

  it("is the same graph for the same world (so a resync records nothing)", () => {
    assert.equal(JSON.stringify([...buildGraph(world).nodes]), JSON.stringify([...g.nodes]));
  });
});

describe("node ids", () => {
  it("are valid aggregate ids, readable when they can be, distinct when names differ only by a dot", () => {
    assert.equal(nodeId("svc", "shop", "checkout"), "svc_shop_checkout");
    const dotted = nodeId("svc", "shop", "a.b");
    assert.match(dotted, /^svc_shop_a-b_[0-9a-f]{16}$/);
    assert.notEqual(dotted, nodeId("svc", "shop", "a-b"));
    assert.ok(nodeId("wl", "x".repeat(63), "y".repeat(253)).length <= 128);
  });
});

describe("decideNode", () => {
  const m = { correlationId: "c", now: "2026-01-01T00:00:00.000Z" };
  const node: ContextNode = {
    node_id: "svc_a_b",
    kind: "service",
    name: "b",
    attributes: { replicas: 1 },
    source: "kubernetes",
  };
  const edge = { from_node: "svc_a_b", to_node: "wl_a_deployment_b", kind: "runs_as" as const };

  it("given nothing recorded, when a node is seen, then it is upserted with its edges", () => {
    const events = decideNode(initialNodeState, { node, edges: [edge] }, m);
    assert.deepEqual(
      events.map((e) => e.type),
      ["context.node_upserted", "context.edge_upserted"],
    );
  });

  it("given the node recorded, when it is seen unchanged (keys in another order), then nothing is recorded", () => {
    const state = decideNode(initialNodeState, { node, edges: [edge] }, m).reduce(evolveNode, initialNodeState);
    const reordered = {
      attributes: { replicas: 1 },
      source: "kubernetes",
      name: "b",
      kind: "service",
      node_id: "svc_a_b",
    } as ContextNode;
    assert.deepEqual(decideNode(state, { node: reordered, edges: [edge] }, m), []);
  });

  it("given the node recorded, when an attribute and its edges change or it goes, then exactly that is recorded", () => {
    const state = decideNode(initialNodeState, { node, edges: [edge] }, m).reduce(evolveNode, initialNodeState);
    const other = { ...edge, to_node: "wl_a_statefulset_b" };
    const changed = decideNode(state, { node: { ...node, attributes: { replicas: 3 } }, edges: [other] }, m);
    assert.deepEqual(
      changed.map((e) => e.type),
      ["context.node_upserted", "context.edge_upserted", "context.edge_removed"],
    );
    assert.deepEqual(
      decideNode(state, { node: null, edges: [] }, m).map((e) => e.type),
      ["context.node_removed"],
    );
  });
});

describe("createRecorder", () => {
  function memoryStore(conflictOnce = false) {
    const events: AnyRecordedEvent[] = [];
    let conflict = conflictOnce;
    const store = {
      appended: events,
      async append(batch: readonly AnyEvent[], opts?: { expectedVersion?: number | "none" }) {
        const id = batch[0]?.aggregate_id ?? "";
        const version = events.filter((e) => e.aggregate_id === id).at(-1)?.seq ?? 0;
        if (conflict || (typeof opts?.expectedVersion === "number" && opts.expectedVersion !== version)) {
          conflict = false;
          throw new ConflictError("wrong last sequence", { extra: { current_version: version } });
        }
        for (const e of batch)
          events.push({
            ...e,
            seq: events.length + 1,
            stream: "S",
            subject: `t.evt.context.${id}`,
          } as AnyRecordedEvent);
        return { seqs: [], version: events.length, duplicate: false };
      },
      async readAggregate(_type: string, id: string) {
        return events.filter((e) => e.aggregate_id === id);
      },
    };
    return store as typeof store & Pick<EventStore, "append" | "readAggregate">;
  }
  const logger = createLogger({ service: "test", level: "silent" });

  it("records a graph, then nothing when it is recorded again unchanged", async () => {
    const store = memoryStore();
    const recorder = createRecorder({ store, logger }, new Map());
    const first = await recorder.record(buildGraph(world));
    assert.ok(first.events > 0);
    assert.equal(first.failed, 0);
    const again = await recorder.record(buildGraph(world));
    assert.equal(again.events, 0);
    assert.equal(store.appended.length, first.events);
  });

  it("given another writer moved a node on, when the append is refused, then it decides again on a fresh read", async () => {
    const store = memoryStore(true);
    const recorder = createRecorder({ store, logger, concurrency: 1 }, new Map());
    const outcome = await recorder.record(
      buildGraph({ ...emptyWorld, namespaces: [{ name: "a", labels: {}, annotations: {} }] }),
    );
    assert.equal(outcome.failed, 0);
    assert.deepEqual(
      store.appended.map((e) => e.type),
      ["context.node_upserted"],
    );
    assert.equal(recorder.known().get("ns_a")?.version, 1);
  });

  it("leaves a carried node as recorded while its source has not answered", async () => {
    const store = memoryStore();
    const recorder = createRecorder({ store, logger }, new Map());
    await recorder.record(buildGraph(world));
    const before = store.appended.length;
    // AWS has not answered since the restart: its nodes are carried as recorded.
    const carried = [...recorder.known().values()]
      .map((k) => k.state.node)
      .filter((n): n is ContextNode => n?.source === "aws");
    assert.equal(carried.length, 2);
    await recorder.record(
      buildGraph({ ...world, cloudResources: [] }, carried),
      new Set(carried.map((n) => n.node_id)),
    );
    const removed = store.appended.slice(before).map((e) => `${e.type} ${e.aggregate_id}`);
    assert.deepEqual(removed, [], "nothing removed, and the services keep their edges to the carried nodes");
  });
});

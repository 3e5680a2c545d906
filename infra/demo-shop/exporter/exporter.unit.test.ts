/**
 * The exporter's logic without a cluster: versions read from pod templates, the bad-version rule,
 * traffic that follows ready replicas and splits across a rollout, and the metrics it serves.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createShopMetrics } from "./metrics.ts";
import {
  DEFAULT_BAD_ERROR_RATIO,
  errorRatioOf,
  isBadVersion,
  parseFaults,
  type ShopSnapshot,
  TrafficAccumulator,
  templateVersion,
} from "./model.ts";
import { startExporter } from "./server.ts";

const snapshot = (over: Partial<ShopSnapshot> = {}): ShopSnapshot => ({
  deployments: [],
  replicaSets: [],
  faults: new Map(),
  environments: new Map(),
  ...over,
});

describe("templateVersion", () => {
  for (const [labels, images, expected] of [
    [{ "app.kubernetes.io/version": "3.2.0" }, ["ghcr.io/x/payments:3.1.0"], "3.2.0"],
    [{}, ["ghcr.io/wheelhouse-demo/payments:3.1.0"], "3.1.0"],
    [undefined, ["registry.local:5000/team/cart:2.0.1-bad"], "2.0.1-bad"],
    [undefined, ["registry.local:5000/team/cart"], "latest"],
    [undefined, ["ghcr.io/x/cart:1.0@sha256:abc"], "1.0"],
    [{ "app.kubernetes.io/version": "" }, [], "unknown"],
  ] as const) {
    it(`${JSON.stringify(labels)} ${images.join(",")} → ${expected}`, () => {
      assert.equal(templateVersion(labels, images), expected);
    });
  }
});

describe("the bad-version rule", () => {
  it("a version ending in -bad is bad without any ConfigMap", () => {
    assert.equal(isBadVersion("3.2.0-bad", undefined), true);
    assert.equal(errorRatioOf("3.2.0-bad", undefined), DEFAULT_BAD_ERROR_RATIO);
    assert.equal(errorRatioOf("3.1.0", undefined), 0);
  });
  it("demo-shop-faults lists bad versions and may set the error ratio", () => {
    const faults = parseFaults({ bad_versions: "3.2.0, 3.3.0\n4.0.0", error_ratio: "0.5" });
    assert.deepEqual([...faults.badVersions], ["3.2.0", "3.3.0", "4.0.0"]);
    assert.equal(errorRatioOf("3.3.0", faults), 0.5);
    assert.equal(errorRatioOf("3.1.0", faults), 0);
  });
  it("an unreadable error_ratio keeps the default", () => {
    for (const error_ratio of ["lots", "1.5", "-0.1", ""]) {
      assert.equal(parseFaults({ bad_versions: "x", error_ratio }).errorRatio, DEFAULT_BAD_ERROR_RATIO, error_ratio);
    }
    assert.equal(parseFaults(undefined).badVersions.size, 0);
  });
});

describe("TrafficAccumulator", () => {
  const rs = (version: string, readyReplicas: number) => ({
    namespace: "ns",
    service: "payments",
    version,
    readyReplicas,
  });

  it("serves requests in proportion to ready replicas, none failing on a good version", () => {
    const traffic = new TrafficAccumulator({ requestsPerReplica: 10 });
    const [t] = traffic.tick(snapshot({ replicaSets: [rs("3.1.0", 2)] }), 1.5);
    assert.deepEqual(t, { namespace: "ns", service: "payments", version: "3.1.0", bad: false, ok: 30, failed: 0 });
    assert.deepEqual(traffic.tick(snapshot({ replicaSets: [rs("3.1.0", 0)] }), 1), []);
  });

  it("a bad version fails its share of requests", () => {
    const traffic = new TrafficAccumulator({ requestsPerReplica: 10 });
    const faults = new Map([["ns", parseFaults({ bad_versions: "3.2.0", error_ratio: "0.4" })]]);
    const [t] = traffic.tick(snapshot({ replicaSets: [rs("3.2.0", 4)], faults }), 1);
    assert.equal(t?.bad, true);
    assert.equal(t?.ok, 24);
    assert.equal(t?.failed, 16);
  });

  it("a rollout splits the traffic between the versions of its ReplicaSets", () => {
    const traffic = new TrafficAccumulator({ requestsPerReplica: 10 });
    const out = traffic.tick(snapshot({ replicaSets: [rs("3.1.0", 1), rs("3.2.0-bad", 3)] }), 1);
    const byVersion = Object.fromEntries(out.map((t) => [t.version, t]));
    assert.equal(byVersion["3.1.0"]?.ok, 10);
    assert.equal(byVersion["3.1.0"]?.failed, 0);
    assert.equal(byVersion["3.2.0-bad"]?.ok, 21);
    assert.equal(byVersion["3.2.0-bad"]?.failed, 9);
  });

  it("carries fractions over so that many short ticks add up to the exact rate", () => {
    const traffic = new TrafficAccumulator({ requestsPerReplica: 1 });
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      for (const t of traffic.tick(snapshot({ replicaSets: [rs("9-bad", 1)] }), 0.1)) {
        ok += t.ok;
        failed += t.failed;
      }
    }
    assert.equal(ok + failed, 10);
    assert.equal(failed, 3);
  });
});

describe("the metrics", () => {
  it("reports both codes, latency and replicas, and drops a version that stopped serving", async () => {
    const metrics = createShopMetrics(new TrafficAccumulator({ requestsPerReplica: 10 }));
    const deployments = [{ namespace: "ns", service: "payments", desiredReplicas: 2, readyReplicas: 2, version: "1" }];
    metrics.record(
      snapshot({
        deployments,
        environments: new Map([["ns", "staging"]]),
        replicaSets: [{ namespace: "ns", service: "payments", version: "1", readyReplicas: 2 }],
      }),
      1,
    );
    let text = await metrics.registry.metrics();
    assert.match(text, /http_requests_total\{namespace="ns",service="payments",version="1",code="200"\} 20/);
    assert.match(text, /http_requests_total\{namespace="ns",service="payments",version="1",code="500"\} 0/);
    assert.match(text, /http_request_duration_seconds_count\{namespace="ns",service="payments",version="1"\} 20/);
    assert.match(text, /demo_shop_replicas_ready\{namespace="ns",service="payments"\} 2/);
    assert.match(text, /demo_shop_replicas_desired\{namespace="ns",service="payments"\} 2/);
    assert.match(text, /demo_shop_namespace_info\{namespace="ns",environment="staging"\} 1/);

    metrics.record(
      snapshot({
        deployments,
        replicaSets: [{ namespace: "ns", service: "payments", version: "2-bad", readyReplicas: 2 }],
      }),
      1,
    );
    text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /version="1"/);
    assert.match(text, /http_requests_total\{namespace="ns",service="payments",version="2-bad",code="500"\} 6/);
    // A bad version is slower: none of its requests fall in the 250 ms bucket.
    assert.match(
      text,
      /http_request_duration_seconds_bucket\{le="0.25",namespace="ns",service="payments",version="2-bad"\} 0/,
    );
  });
});

describe("the exporter process", () => {
  it("serves /metrics, and /-/healthy turns 503 naming the error when the cluster stops answering", async () => {
    let failing: Error | null = null;
    let clock = 1_000_000;
    const exporter = await startExporter({
      readShop: async () => {
        if (failing) throw failing;
        return snapshot({ replicaSets: [{ namespace: "ns", service: "cart", version: "2", readyReplicas: 1 }] });
      },
      host: "127.0.0.1",
      port: 0,
      intervalMs: 60_000,
      profile: { requestsPerReplica: 10 },
      log: () => {},
      now: () => clock,
    });
    try {
      clock += 2000;
      await exporter.poll();
      const metrics = await (await fetch(`${exporter.url}/metrics`)).text();
      assert.match(metrics, /http_requests_total\{namespace="ns",service="cart",version="2",code="200"\} 20/);
      assert.equal((await fetch(`${exporter.url}/-/healthy`)).status, 200);

      failing = new Error("connect ECONNREFUSED 127.0.0.1:6322");
      await exporter.poll();
      clock += 300_000;
      const health = await fetch(`${exporter.url}/-/healthy`);
      assert.equal(health.status, 503);
      assert.match(await health.text(), /ECONNREFUSED/);
      assert.equal((await fetch(`${exporter.url}/nope`)).status, 404);
    } finally {
      await exporter.stop();
    }
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { createLogger } from "../../../lib/log/index.ts";
import { applicationFact } from "./argocd.ts";
import { cloudResourceFact, publicUrl } from "./cloud.ts";
import { MalformedObjectError, podFact, workloadFact } from "./facts.ts";
import { SourceTracker } from "./health.ts";
import { currentReleases, decodeHelmRelease } from "./helm.ts";
import { createPoller } from "./poller.ts";

const logger = createLogger({ service: "test", level: "silent" });

/** A release secret as Helm writes it: JSON, gzipped, base64 (Helm), base64 again (Secret data). */
function helmSecret(release: Record<string, unknown>, name = "sh.helm.release.v1.web.v2") {
  const helm = gzipSync(Buffer.from(JSON.stringify(release))).toString("base64");
  return {
    metadata: { name, namespace: "shop", labels: { owner: "helm", name: "web", version: "2" } },
    type: "helm.sh/release.v1",
    data: { release: Buffer.from(helm).toString("base64") },
  };
}

describe("Helm release secrets", () => {
  const release = {
    name: "web",
    namespace: "shop",
    version: 2,
    info: { status: "deployed" },
    chart: { metadata: { name: "web", version: "1.3.0", appVersion: "2.1" }, values: { replicaCount: 1 } },
    config: { replicaCount: 3, image: { tag: "2.1" } },
  };

  it("decode to chart, versions, revision, status and a digest of the user values (never the values)", () => {
    const fact = decodeHelmRelease(helmSecret(release));
    assert.deepEqual(
      { ...fact, valuesDigest: fact.valuesDigest.slice(0, 7) },
      {
        namespace: "shop",
        name: "web",
        revision: 2,
        status: "deployed",
        chart: "web",
        chartVersion: "1.3.0",
        appVersion: "2.1",
        valuesDigest: "sha256:",
      },
    );
    const reordered = decodeHelmRelease(helmSecret({ ...release, config: { image: { tag: "2.1" }, replicaCount: 3 } }));
    assert.equal(reordered.valuesDigest, fact.valuesDigest, "the digest is of the canonical form");
    assert.ok(!JSON.stringify(fact).includes("replicaCount"));
  });

  it("keep the newest revision of each release", () => {
    const r1 = decodeHelmRelease(helmSecret({ ...release, version: 1, info: { status: "superseded" } }));
    const r2 = decodeHelmRelease(helmSecret(release));
    assert.deepEqual(
      currentReleases([r2, r1]).map((r) => r.revision),
      [2],
    );
  });

  it("refuse a secret that is not a release, naming it and the field", () => {
    const bad = { ...helmSecret(release), data: { release: Buffer.from("not gzip, not json").toString("base64") } };
    assert.throws(
      () => decodeHelmRelease(bad),
      (e: unknown) =>
        e instanceof MalformedObjectError &&
        e.object === "Secret shop/sh.helm.release.v1.web.v2" &&
        e.field === "data.release",
    );
  });
});

describe("objects", () => {
  it("a workload with a field of the wrong type is refused with the object and the field", () => {
    const o = { metadata: { name: "web", namespace: "shop" }, spec: { replicas: "three" }, status: {} };
    assert.throws(
      () => workloadFact("Deployment", o),
      (e: unknown) =>
        e instanceof MalformedObjectError &&
        e.message === 'Deployment shop/web: spec.replicas is not a count ("three")',
    );
    assert.throws(() => workloadFact("Deployment", { metadata: { namespace: "shop" } }), /metadata.name is missing/);
  });

  it("a pod names its Deployment through its ReplicaSet's pod-template-hash", () => {
    const pod = podFact({
      metadata: {
        name: "web-7d9f8-abcde",
        namespace: "shop",
        labels: { "pod-template-hash": "7d9f8" },
        ownerReferences: [{ kind: "ReplicaSet", name: "web-7d9f8" }],
      },
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    });
    assert.deepEqual(pod.owner, { kind: "Deployment", name: "web" });
    assert.equal(pod.ready, true);
  });

  it("an Application whose status.sync is not an object is malformed", () => {
    assert.throws(
      () => applicationFact({ metadata: { name: "a", namespace: "argocd" }, spec: {}, status: { sync: "oops" } }),
      /Application argocd\/a: status.sync is not an object/,
    );
  });

  it("cloud resources keep the ARN's parts and the joining tags only; URLs lose their credentials", () => {
    const r = cloudResourceFact("arn:aws:rds:eu-west-1:123:db:orders", [
      { Key: "wheelhouse:service", Value: "checkout" },
      { Key: "owner-email", Value: "someone@example.com" },
    ]);
    assert.deepEqual(r, {
      arn: "arn:aws:rds:eu-west-1:123:db:orders",
      service: "rds",
      resourceType: "db",
      region: "eu-west-1",
      account: "123",
      name: "orders",
      tags: { "wheelhouse:service": "checkout" },
    });
    assert.equal(cloudResourceFact("not-an-arn", []), null);
    assert.equal(publicUrl("http://admin:hunter2@prometheus:9090/api?token=x"), "http://prometheus:9090/api");
  });
});

describe("source health", () => {
  it("is starting, then ok, then stale with its age, then error with since when", () => {
    let now = 1_000_000;
    const t = new SourceTracker("aws", logger, { now: () => now, staleAfterMs: 30_000 });
    assert.equal(t.health().status, "starting");
    t.succeeded();
    assert.deepEqual(t.health(), { status: "ok", age_seconds: 0 });
    now += 45_000;
    assert.deepEqual(t.health(), { status: "stale", age_seconds: 45 });
    t.failed("connect ECONNREFUSED", { retryInMs: 5_000 });
    assert.equal(t.health().status, "error");
    assert.equal(t.health().error, "connect ECONNREFUSED");
    t.succeeded();
    assert.equal(t.health().status, "ok");
  });

  it("a poll that hangs past its timeout is an error naming the timeout, and the last result is kept", async () => {
    let hang = false;
    const poller = createPoller({
      name: "grafana",
      intervalMs: 60_000,
      timeoutMs: 50,
      poll: (signal) =>
        hang
          ? new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
          : Promise.resolve(["prom"]),
      onChange: () => {},
      logger,
    });
    await poller.pollNow();
    hang = true;
    await poller.pollNow();
    assert.equal(poller.health().status, "error");
    assert.equal(poller.health().error, "no answer within 50 ms (poll timeout)");
    assert.deepEqual(poller.latest(), ["prom"]);
    await poller.stop();
  });
});

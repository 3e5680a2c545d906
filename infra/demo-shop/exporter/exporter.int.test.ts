/**
 * The exporter against the local cluster: the payments chart installed with helm in a namespace of
 * the test's own, upgraded to a bad version and rolled back with helm; the request and error
 * counters follow what runs, and a version the namespace's demo-shop-faults ConfigMap lists fails too.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { execa } from "execa";
import { createTestNamespace, kubectl, type TestNamespace, testCluster } from "../../../test/support/cluster.ts";
import { waitFor } from "../../../test/support/wait.ts";
import { shopReader } from "./cluster.ts";
import { type Exporter, startExporter } from "./server.ts";

const CHART = join(import.meta.dirname, "..", "payments");

const helm = (...args: string[]) =>
  execa(testCluster.helm, [...args, `--kubeconfig=${testCluster.kubeconfig}`], { reject: true });

/** The 200 and 500 counts of each version of payments in `namespace`, from the exporter's text. */
async function paymentsCounts(exporter: Exporter, namespace: string) {
  const text = await (await fetch(`${exporter.url}/metrics`)).text();
  const counts = new Map<string, { ok: number; failed: number }>();
  const re = new RegExp(
    `^http_requests_total\\{namespace="${namespace}",service="payments",version="([^"]+)",code="(\\d+)"\\} (\\d+)$`,
    "gm",
  );
  for (const m of text.matchAll(re)) {
    const entry = counts.get(m[1] as string) ?? { ok: 0, failed: 0 };
    if (m[2] === "200") entry.ok = Number(m[3]);
    else entry.failed = Number(m[3]);
    counts.set(m[1] as string, entry);
  }
  return { counts, text };
}

describe("the demo exporter against the local cluster", () => {
  let ns: TestNamespace;
  let exporter: Exporter;

  before(async () => {
    ns = await createTestNamespace("shop-exporter");
    await kubectl(["label", "namespace", ns.name, "wheelhouse.dev/environment=staging"]);
    await helm(
      "install",
      "payments",
      CHART,
      `--namespace=${ns.name}`,
      "--set=replicaCount=2",
      "--wait",
      "--timeout=90s",
    );
    const kc = new KubeConfig();
    kc.loadFromFile(testCluster.kubeconfig);
    exporter = await startExporter({
      readShop: shopReader(kc),
      host: "127.0.0.1",
      port: 0,
      intervalMs: 200,
      profile: { requestsPerReplica: 10 },
      log: () => {},
    });
  });

  after(async () => {
    await exporter?.stop();
    await ns?.teardown();
  });

  it("counts requests of the version running, fails a bad one's, and follows a helm rollback", async () => {
    // The chart's appVersion, served without errors at 2 replicas.
    const good = await waitFor("payments 3.1.0 serving", async () => {
      const { counts } = await paymentsCounts(exporter, ns.name);
      const v = counts.get("3.1.0");
      return v && v.ok > 20 ? v : undefined;
    });
    assert.equal(good.failed, 0);
    const { text } = await paymentsCounts(exporter, ns.name);
    assert.match(text, new RegExp(`demo_shop_replicas_ready\\{namespace="${ns.name}",service="payments"\\} 2`));
    assert.match(text, new RegExp(`demo_shop_namespace_info\\{namespace="${ns.name}",environment="staging"\\} 1`));

    await helm(
      "upgrade",
      "payments",
      CHART,
      `--namespace=${ns.name}`,
      "--reuse-values",
      "--set=image.tag=3.2.0-bad",
      "--wait",
      "--timeout=90s",
    );
    const bad = await waitFor(
      "the bad version failing requests, the good one gone",
      async () => {
        const { counts } = await paymentsCounts(exporter, ns.name);
        const v = counts.get("3.2.0-bad");
        return v && v.failed > 10 && !counts.has("3.1.0") ? v : undefined;
      },
      { timeoutMs: 30_000 },
    );
    // 30 % fail (the default error ratio), give or take the carried fraction.
    const ratio = bad.failed / (bad.ok + bad.failed);
    assert.ok(ratio > 0.25 && ratio < 0.35, `error ratio ${ratio}`);

    await helm("rollback", "payments", "1", `--namespace=${ns.name}`, "--wait", "--timeout=90s");
    await waitFor(
      "3.1.0 serving again after the rollback, the bad version gone",
      async () => {
        const { counts } = await paymentsCounts(exporter, ns.name);
        return counts.has("3.1.0") && !counts.has("3.2.0-bad");
      },
      { timeoutMs: 30_000 },
    );
    const history = await helm("history", "payments", `--namespace=${ns.name}`, "--output=json");
    const revisions = JSON.parse(history.stdout) as { revision: number; description: string }[];
    assert.match(revisions.at(-1)?.description ?? "", /Rollback to 1/);
  });

  it("a version the namespace's demo-shop-faults ConfigMap lists fails at its error_ratio", async () => {
    await kubectl([
      "create",
      "configmap",
      "demo-shop-faults",
      `--namespace=${ns.name}`,
      "--from-literal=bad_versions=3.1.0",
      "--from-literal=error_ratio=0.5",
    ]);
    const before = (await paymentsCounts(exporter, ns.name)).counts.get("3.1.0") ?? { ok: 0, failed: 0 };
    const after = await waitFor("3.1.0 failing once listed", async () => {
      const v = (await paymentsCounts(exporter, ns.name)).counts.get("3.1.0");
      return v && v.failed - before.failed > 20 ? v : undefined;
    });
    const ratio = (after.failed - before.failed) / (after.ok - before.ok + after.failed - before.failed);
    assert.ok(ratio > 0.4 && ratio < 0.6, `error ratio ${ratio}`);
  });
});

/**
 * A Helm upgrade to a bad version, end to end: payments (the demo shop's chart) runs 3.1.0 in a
 * shop namespace of the test's own; alice asks Wheelhouse to upgrade it to chart 1.4.0 from a chart
 * repository (served here over HTTP, added with `helm repo add` as a user adds theirs), whose
 * appVersion 3.2.0-bad fails 30 % of its requests (the demo exporter's rule). The upgrade itself
 * succeeds; the verification reads the error ratio from the stack's Prometheus, fails, and the
 * execution rolls back with helm. `helm history` shows the rollback, the release runs 3.1.0 again,
 * and the execution explains why.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import { createTestNamespace, kubectl, kubeGet, type TestNamespace, testCluster } from "../../test/support/cluster.ts";
import { type E2eSystem, PROMETHEUS_URL, startE2eSystem } from "../../test/support/e2e.ts";
import { waitFor } from "../../test/support/wait.ts";

const CHART = join(import.meta.dirname, "payments");
const REPO = "wh-e2e-shop";

describe("Helm upgrade to a bad version → Prometheus shows the errors → verification fails → helm rollback", () => {
  let dir: string;
  let repo: Server;
  let ns: TestNamespace;
  let system: E2eSystem;
  let helmEnv: Record<string, string>;

  const helm = (...args: string[]) =>
    execa(testCluster.helm, [...args, `--kubeconfig=${testCluster.kubeconfig}`], { env: helmEnv });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "wh-helm-e2e-"));
    helmEnv = {
      HELM_REPOSITORY_CONFIG: join(dir, "repositories.yaml"),
      HELM_REPOSITORY_CACHE: join(dir, "repository-cache"),
    };
    // The chart repository: 1.3.1 (3.1.0, good) and 1.4.0 (3.2.0-bad), indexed and served over HTTP.
    const charts = join(dir, "charts");
    await helm("package", CHART, `--destination=${charts}`);
    await helm("package", CHART, "--version=1.4.0", "--app-version=3.2.0-bad", `--destination=${charts}`);
    repo = createServer((req, res) => {
      const name = (req.url ?? "/").split("?")[0]?.replace(/^\/+/, "") ?? "";
      try {
        if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error("bad name");
        res.writeHead(200).end(readFileSync(join(charts, name)));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => repo.listen(0, "127.0.0.1", resolve));
    const repoUrl = `http://127.0.0.1:${(repo.address() as AddressInfo).port}`;
    await helm("repo", "index", charts, `--url=${repoUrl}`);
    await helm("repo", "add", REPO, repoUrl);

    ns = await createTestNamespace("shop-helm");
    await kubectl(["label", "namespace", ns.name, "wheelhouse.dev/environment=staging"]);
    await helm("install", "payments", `${REPO}/payments`, "--version=1.3.1", `--namespace=${ns.name}`, "--wait");

    system = await startE2eSystem("helm_bad", {
      env: helmEnv,
      config: {
        // A 10 s window: 3.2.0-bad's failures outweigh the good version's requests still in it within
        // seconds of the upgrade (over 30 s the first measurement sat at 0.053, a hair above 0.05);
        // five measurements 2 s apart leave a loaded machine's scrapes time to catch up.
        connectors: { prometheus: { error_ratio: { rate_window: "10s", count: 5 } } },
        tools: {
          env_allow: [
            "PATH",
            "HOME",
            "LANG",
            "TZ",
            "KUBECONFIG",
            "WH_FIXTURE_ARGV_LOG",
            "HELM_REPOSITORY_CONFIG",
            "HELM_REPOSITORY_CACHE",
          ],
        },
      },
    });
  });

  after(async () => {
    await system?.stop();
    await ns?.teardown();
    await new Promise((resolve) => (repo ? repo.close(resolve) : resolve(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("rolls payments back to 3.1.0 when its error ratio fails verification, and says why", async () => {
    const alice = await system.signIn("alice");
    const bob = await system.signIn("bob");
    // The good version serves without errors before anything changes (what the verification compares to).
    const errorRatio = `sum(rate(http_requests_total{namespace="${ns.name}",service="payments",code=~"5.."}[20s])) / sum(rate(http_requests_total{namespace="${ns.name}",service="payments"}[20s]))`;
    await waitFor(
      "Prometheus to see payments serving without errors",
      async () => {
        const res = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(errorRatio)}`);
        const value = ((await res.json()) as { data: { result: { value: [number, string] }[] } }).data.result[0]
          ?.value[1];
        return value === "0";
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );

    const planId = await system.plan(
      alice,
      `helm upgrade payments to 1.4.0 in staging namespace ${ns.name} with chart ${REPO}/payments`,
    );
    const plan = await system.waitForPlan(alice, planId, (p) => ["pending_approval", "approved"].includes(p.status));
    const upgrade = plan.steps.find((s) => s.action_id === "helm.upgrade") as { verification?: unknown } | undefined;
    assert.ok(upgrade, JSON.stringify(plan.steps));
    assert.match(JSON.stringify(upgrade.verification), /prometheus|promql/i, "the upgrade is verified on its metrics");
    if (plan.status === "pending_approval") {
      const approved = await system.cli(bob, "approve", planId);
      assert.equal(approved.exitCode, 0, approved.stderr);
      await system.waitForPlan(alice, planId, (p) => p.status === "approved");
    }

    const executionId = await system.execute(alice, planId);
    const execution = await system.waitForExecution(alice, executionId, 240_000);
    const explained = (await system.cli(alice, "explain", planId)).stdout;
    const calls = execution.tool_calls.map((c) => `${c.action_id}${c.dry_run ? " (dry run)" : ""} ${c.status}`);
    const ended = `the execution ended ${execution.status}: ${execution.reason}\ntool calls: ${calls.join(", ")}\n${explained}`;
    // The engine ends a rolled-back execution as failed, its reason the verification's (the error
    // ratio it measured in Prometheus) and the rollback's.
    assert.equal(execution.status, "failed", ended);
    assert.match(
      execution.reason ?? "",
      /^verification failed .*prometheus .*http_requests_total.*; rolled back s3$/s,
      ended,
    );
    assert.ok(calls.includes("helm.upgrade succeeded"), ended);
    assert.ok(calls.includes("helm.rollback succeeded"), ended);

    // helm history: the upgrade to 1.4.0, then the rollback to the first revision.
    const history = JSON.parse(
      (await helm("history", "payments", `--namespace=${ns.name}`, "--output=json")).stdout,
    ) as {
      revision: number;
      chart: string;
      app_version: string;
      description: string;
    }[];
    assert.equal(history.at(-2)?.chart, "payments-1.4.0");
    assert.match(history.at(-1)?.description ?? "", /Rollback to 1/);
    assert.equal(history.at(-1)?.app_version, "3.1.0");
    const deployment = await kubeGet("deployment", "payments", `--namespace=${ns.name}`);
    assert.equal(deployment?.spec.template.metadata.labels["app.kubernetes.io/version"], "3.1.0");
    // The release serves the old version again: Prometheus sees 3.1.0's requests, without errors.
    await waitFor(
      "Prometheus to see 3.1.0 serving again",
      async () => {
        const q = `sum(rate(http_requests_total{namespace="${ns.name}",service="payments",version="3.1.0"}[10s])) > 0`;
        const res = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(q)}`);
        return ((await res.json()) as { data: { result: unknown[] } }).data.result.length > 0;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );

    // Why: the execution (and its explanation) names the failed verification and the error ratio it measured.
    const read = await system.api<{ reason: string | null }>(alice, "GET", `/v1/executions/${executionId}/explain`);
    assert.equal(read.status, 200, read.text);
    assert.match(`${execution.reason ?? ""}\n${read.text}\n${explained}`, /verif/i);
    assert.match(`${read.text}\n${explained}`, /rollback|rolled back/i);
  });
});

/**
 * GitOps deploy, end to end, as users run it: alice asks "deploy checkout v1.4.2 to production",
 * the template planner plans an Argo CD sync (read the app, diff, sync with its verification by
 * `argocd app wait`), policy asks for one approval (T2), bob approves, alice executes; the
 * execution runs as a GitOpsDeployWorkflow, verifies (`argocd app wait`, then checkout's error ratio
 * in the local Prometheus, scraped from the demo shop's exporter), succeeds, and Grafana receives a
 * start and an end annotation carrying the execution's tags.
 *
 * No Argo CD runs here: `argocd` is the fixture CLI (test/fixtures/bin/argocd, first on the tool
 * router's PATH), which answers as the real one and records its argv; Grafana is the local fixture
 * speaking its annotations API (test/fixtures/grafana). Everything is observed as a user observes
 * it: the HTTP API, the CLI, the audit trail, and what the fixtures received.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type E2eSystem, GRAFANA_TOKEN, startE2eSystem } from "../../test/support/e2e.ts";
import { waitFor } from "../../test/support/index.ts";

const INTENT = "deploy checkout v1.4.2 to production";
const APP = "checkout-production";

interface MeasurementsPage {
  readonly series: {
    readonly provider: string;
    readonly query: string;
    readonly measurements: { readonly outcome: string; readonly value: number | null }[];
  }[];
}

interface AuditPage {
  readonly items: { readonly action: string; readonly payload?: Record<string, unknown> }[];
}

describe("GitOps deploy with the fixture argocd CLI: plan → approve → GitOpsDeployWorkflow syncs and verifies → Grafana start and end annotations", () => {
  let system: E2eSystem;

  before(async () => {
    system = await startE2eSystem("gitops");
  });

  after(async () => {
    await system?.stop();
  });

  it("syncs checkout-production to v1.4.2, verifies it, and annotates Grafana at start and end with the execution's tags", async () => {
    const alice = await system.signIn("alice");
    const bob = await system.signIn("bob");
    await waitFor(
      "the context service to show checkout in production",
      async () =>
        (await system.api(alice, "GET", "/v1/context/services/checkout?environment=production")).status === 200,
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    const planId = await system.plan(alice, INTENT);
    const plan = await system.waitForPlan(alice, planId, (p) => p.status === "pending_approval");
    assert.equal(plan.tier, "T2", "an Argo CD sync is a T2 write");
    const actions = (plan.steps as { action_id: string }[]).map((s) => s.action_id);
    assert.deepEqual(actions.slice(0, 3), ["argocd.app_get", "argocd.app_diff", "argocd.app_sync"]);

    const approved = await system.cli(bob, "approve", planId);
    assert.equal(approved.exitCode, 0, approved.stderr);
    await system.waitForPlan(alice, planId, (p) => p.status === "approved");

    const executionId = await system.execute(alice, planId);
    const execution = await system.waitForExecution(alice, executionId);
    const explained = async () => (await system.cli(alice, "explain", planId)).stdout;
    assert.equal(execution.status, "succeeded", `${execution.reason}\n${await explained()}`);

    // The real argv the tool router ran, in order: the reads, the policy's dry run (a diff), the sync, its verification.
    const argocd = system.fixtureArgv().filter((argv) => argv[0] === "argocd");
    const sync = argocd.findIndex((a) => a[1] === "app" && a[2] === "sync");
    assert.deepEqual(argocd[sync], ["argocd", "app", "sync", APP, "--revision=v1.4.2", "--timeout=600"]);
    assert.equal(argocd.filter((a) => a[2] === "sync").length, 1, "the sync runs exactly once");
    const wait = argocd.findIndex((a) => a[1] === "app" && a[2] === "wait");
    assert.ok(wait > sync, `the verification (argocd app wait) runs after the sync: ${JSON.stringify(argocd)}`);
    assert.deepEqual(argocd[wait]?.slice(0, 4), ["argocd", "app", "wait", APP]);
    const calls = execution.tool_calls.map((c) => `${c.action_id}${c.dry_run ? " (dry run)" : ""} ${c.status}`);
    assert.ok(
      calls.includes("argocd.app_sync succeeded"),
      `the execution lists the sync as a succeeded tool call: ${calls.join(", ")}`,
    );

    // Verified by measurement, not by the read alone: checkout's error ratio in shop-production, from Prometheus.
    const measured = await system.api<MeasurementsPage>(alice, "GET", `/v1/executions/${executionId}/measurements`);
    assert.equal(measured.status, 200, measured.text);
    const errorRatio = measured.body.series.find((s) => s.provider === "prometheus");
    assert.ok(errorRatio, `the sync is judged by Prometheus: ${measured.text}`);
    assert.match(errorRatio.query, /namespace="shop-production",service="checkout"/);
    assert.ok(errorRatio.measurements.length >= 1, measured.text);
    assert.ok(
      errorRatio.measurements.every((m) => m.outcome !== "fail") &&
        errorRatio.measurements.some((m) => m.outcome === "pass"),
      `checkout's error ratio stayed below its limit: ${measured.text}`,
    );

    // What Grafana received: two annotations (start, end), with the service account token and the execution's tags.
    const grafana = system.grafana;
    assert.ok(grafana);
    const annotations = await waitFor(
      "Grafana to hold the end annotation",
      () => (grafana.annotations.length >= 2 ? grafana.annotations : undefined),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.equal(annotations.length, 2, `one start and one end annotation, no more: ${JSON.stringify(annotations)}`);
    for (const post of grafana.annotationPosts()) assert.equal(post.headers.authorization, `Bearer ${GRAFANA_TOKEN}`);
    const [start, end] = annotations;
    assert.ok(start && end);
    const executionTags = ["wheelhouse", "workflow:GitOpsDeployWorkflow", `execution:${executionId}`, `plan:${planId}`];
    for (const tag of executionTags) {
      assert.ok(start.tags.includes(tag), `the start annotation is tagged ${tag}: ${JSON.stringify(start.tags)}`);
      assert.ok(end.tags.includes(tag), `the end annotation is tagged ${tag}: ${JSON.stringify(end.tags)}`);
    }
    assert.ok(end.tags.includes("status:succeeded"), JSON.stringify(end.tags));
    assert.match(start.text, new RegExp(`GitOpsDeployWorkflow started: execution ${executionId} of plan ${planId}`));
    assert.match(end.text, /GitOpsDeployWorkflow succeeded/);
    assert.ok(end.time >= start.time, "the end annotation is not before the start");
    assert.ok(Math.abs(start.time - Date.now()) < 10 * 60_000, "annotation times are epoch milliseconds of now");

    // The execution records each annotation once (execution.notified, channel grafana, the id Grafana answered).
    const audit = await system.api<AuditPage>(
      alice,
      "GET",
      `/v1/audit/events?aggregate_id=${executionId}&type=execution.notified`,
    );
    assert.equal(audit.status, 200, audit.text);
    const notified = audit.body.items.map((i) => i.payload ?? {});
    assert.deepEqual(
      notified.map((n) => `${n.channel} ${n.ref}`).sort(),
      annotations.map((a) => `grafana ${a.id}`).sort(),
      `each annotation is recorded once, by the id Grafana answered: ${audit.text}`,
    );
  });
});

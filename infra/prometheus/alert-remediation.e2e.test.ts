/**
 * An alert, end to end, as it happens for a user: checkout in a shop namespace runs below its
 * replica floor; the demo exporter reports it, Prometheus evaluates the project's rule
 * (CheckoutReplicasBelowFloor, infra/prometheus/rules), the real Alertmanager delivers to the
 * gateway's webhook with its bearer token, the planner proposes the rule's remedy (scale to the
 * floor), bob approves if policy asks, alice executes, the execution scales and verifies, and the
 * alert resolves: Prometheus and Alertmanager drop it and the gateway records the resolution.
 *
 * Prometheus and Alertmanager are the test's own (test/support/metrics-stack.ts: the project's
 * configs, this namespace's series only); the exporter is the stack's (scripts/infra up).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestNamespace, kubectl, kubeGet, type TestNamespace } from "../../test/support/cluster.ts";
import { type E2eSystem, type PlanView, startE2eSystem } from "../../test/support/e2e.ts";
import { startMetricsStack, type TestMetricsStack } from "../../test/support/metrics-stack.ts";
import { waitFor } from "../../test/support/wait.ts";

const ALERT = "CheckoutReplicasBelowFloor";

/** checkout as the shop runs it (labels the exporter selects on), at one replica: below the floor of 2. */
const checkout = (namespace: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "checkout",
    namespace,
    labels: { "app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop" },
  },
  spec: {
    replicas: 1,
    selector: { matchLabels: { "app.kubernetes.io/name": "checkout" } },
    template: {
      metadata: { labels: { "app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop" } },
      spec: { containers: [{ name: "checkout", image: "ghcr.io/wheelhouse-demo/checkout:1.4.2" }] },
    },
  },
});

interface AuditPage {
  readonly items: { readonly action: string; readonly payload?: Record<string, unknown> }[];
}

describe("Alertmanager fires → plan → approve → execute → verify → the alert resolves", () => {
  let dir: string;
  let ns: TestNamespace;
  let system: E2eSystem;
  let metrics: TestMetricsStack;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "wh-alert-e2e-"));
    const tokenFile = join(dir, "alertmanager-token");
    writeFileSync(tokenFile, randomBytes(24).toString("hex"), { mode: 0o600 });
    ns = await createTestNamespace("shop-alert");
    await kubectl(["label", "namespace", ns.name, "wheelhouse.dev/environment=staging"]);
    await kubectl(["create", "--filename=-"], { input: JSON.stringify(checkout(ns.name)) });
    system = await startE2eSystem("alert", {
      config: { gateway: { webhooks: { alertmanager_token: `file:${tokenFile}` } } },
    });
    metrics = await startMetricsStack({
      webhookUrl: `${system.url}/v1/hooks/alertmanager`,
      tokenFile,
      namespace: ns.name,
    });
  });

  after(async () => {
    await metrics?.stop();
    await system?.stop();
    await ns?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("scales checkout back to its floor through an approved plan, and the alert resolves", async () => {
    const alice = await system.signIn("alice");
    const bob = await system.signIn("bob");
    const stackLog = () => `\n--- prometheus and alertmanager ---\n${metrics.output()}`;

    const firing = await waitFor(
      `Prometheus firing ${ALERT} for ${ns.name}`,
      async () => (await metrics.alerts()).find((a) => a.labels.alertname === ALERT && a.state === "firing"),
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}${stackLog()}`);
    });
    assert.equal(firing.labels.environment, "staging");
    assert.equal(firing.labels.service, "checkout");

    // The webhook raised a plan: the rule's remedy, checkout scaled to 2 in the namespace. The list
    // carries no steps; each alert plan of checkout is read whole once the planner has proposed it.
    const plan = await waitFor(
      "the plan the alert raised",
      async () => {
        const page = await system.api<{ items: PlanView[] }>(alice, "GET", "/v1/plans?service=checkout&limit=50");
        for (const listed of page.body?.items ?? []) {
          const read = await system.api<PlanView>(alice, "GET", `/v1/plans/${listed.plan_id}`);
          const scales = read.body?.steps?.some(
            (s) => s.action_id === "kubectl.scale" && (s.input as { namespace?: string })?.namespace === ns.name,
          );
          if (read.status === 200 && scales) return read.body;
        }
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}${stackLog()}\n--- wheelhouse ---\n${system.output().slice(-4000)}`);
    });
    const scale = plan.steps.find((s) => s.action_id === "kubectl.scale") as { input: Record<string, unknown> };
    assert.equal(scale.input.replicas, 2);
    assert.equal(scale.input.name, "checkout");

    // Policy puts the remedy before an approver (stage 1: every write needs one); a deny names its reasons.
    const decided = await system.waitForPlan(alice, plan.plan_id, (p) => p.decision !== null);
    assert.ok(["pending_approval", "approved"].includes(decided.status), JSON.stringify(decided));
    if (decided.status === "pending_approval") {
      const approved = await system.cli(bob, "approve", plan.plan_id);
      assert.equal(approved.exitCode, 0, approved.stderr);
      await system.waitForPlan(alice, plan.plan_id, (p) => p.status === "approved");
    }

    const executionId = await system.execute(alice, plan.plan_id);
    const execution = await system.waitForExecution(alice, executionId);
    const explained = async () => (await system.cli(alice, "explain", plan.plan_id)).stdout;
    assert.equal(execution.status, "succeeded", `${execution.reason}\n${await explained()}`);
    const deployment = await kubeGet("deployment", "checkout", `--namespace=${ns.name}`);
    assert.equal(deployment?.spec.replicas, 2);

    // The alert resolves: Prometheus and Alertmanager drop it, and the gateway records the resolution.
    await waitFor(
      `${ALERT} gone from Prometheus and Alertmanager`,
      async () =>
        !(await metrics.alerts()).some((a) => a.labels.alertname === ALERT) &&
        !(await metrics.alertmanagerAlerts()).some((l) => l.alertname === ALERT),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const resolved = await waitFor(
      "the gateway to record the resolution (signal.received, status resolved)",
      async () => {
        const audit = await system.api<AuditPage>(alice, "GET", "/v1/audit/events?type=signal.received&limit=100");
        return audit.body?.items?.find(
          (i) =>
            i.payload?.status === "resolved" &&
            (i.payload?.labels as Record<string, string> | undefined)?.namespace === ns.name,
        );
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.equal((resolved.payload?.labels as Record<string, string> | undefined)?.alertname, ALERT);
  });
});

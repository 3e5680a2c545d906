/**
 * The effect checks, table-driven: for each write action whose effect can be read back, a live
 * state that shows the call's effect and states that do not (the old value, a change older than the
 * call, another version); an action without a check has none.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CLOCK_SKEW_MS, EFFECT_CHECKS, effectCheckFor } from "./effect-checks.ts";

const STARTED = new Date("2026-03-01T10:00:00.000Z");
const after = (ms: number) => new Date(STARTED.getTime() + ms).toISOString();

const deployment = { kind: "deployment", name: "checkout", namespace: "shop" };
const helmStatus = (status: string, lastDeployed: string, version: string, description = "Upgrade complete") => ({
  name: "payments",
  version: 7,
  info: { status, last_deployed: lastDeployed, description },
  chart: { metadata: { name: "payments", version } },
});
const argoApp = (phase: string, startedAt: string, revision: string) => ({
  metadata: { name: "checkout" },
  status: {
    sync: { status: "Synced", revision },
    operationState: { phase, startedAt, operation: { sync: { revision } }, syncResult: { revision } },
  },
});

const table: {
  action: string;
  name: string;
  input: Record<string, unknown>;
  state: unknown;
  shown: boolean;
}[] = [
  {
    action: "kubectl.scale",
    name: "replicas as the call sets them",
    input: { ...deployment, replicas: 4 },
    state: { spec: { replicas: 4 } },
    shown: true,
  },
  {
    action: "kubectl.scale",
    name: "replicas as they were",
    input: { ...deployment, replicas: 4 },
    state: { spec: { replicas: 2 } },
    shown: false,
  },
  {
    action: "kubectl.scale",
    name: "a state without spec",
    input: { ...deployment, replicas: 4 },
    state: "not json",
    shown: false,
  },
  {
    action: "kubectl.annotate",
    name: "every annotation set",
    input: { ...deployment, annotations: { "wheelhouse.dev/change": "sale", team: "shop" } },
    state: { metadata: { annotations: { "wheelhouse.dev/change": "sale", team: "shop", other: "x" } } },
    shown: true,
  },
  {
    action: "kubectl.annotate",
    name: "one annotation still old",
    input: { ...deployment, annotations: { "wheelhouse.dev/change": "sale", team: "shop" } },
    state: { metadata: { annotations: { "wheelhouse.dev/change": "none", team: "shop" } } },
    shown: false,
  },
  {
    action: "kubectl.rollout_restart",
    name: "restarted after the call started",
    input: deployment,
    state: { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": after(800) } } } } },
    shown: true,
  },
  {
    action: "kubectl.rollout_restart",
    name: "restarted an hour before",
    input: deployment,
    state: {
      spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": after(-3_600_000) } } } },
    },
    shown: false,
  },
  {
    action: "helm.upgrade",
    name: "deployed at the version after the call started",
    input: { release: "payments", chart: "shop/payments", namespace: "shop", version: "1.5.0" },
    state: helmStatus("deployed", after(2_000), "1.5.0"),
    shown: true,
  },
  {
    action: "helm.upgrade",
    name: "deployed, but before the call started",
    input: { release: "payments", chart: "shop/payments", namespace: "shop", version: "1.5.0" },
    state: helmStatus("deployed", after(-CLOCK_SKEW_MS - 1_000), "1.5.0"),
    shown: false,
  },
  {
    action: "helm.upgrade",
    name: "another version",
    input: { release: "payments", chart: "shop/payments", namespace: "shop", version: "1.5.0" },
    state: helmStatus("deployed", after(2_000), "1.4.0"),
    shown: false,
  },
  {
    action: "helm.upgrade",
    name: "still pending",
    input: { release: "payments", chart: "shop/payments", namespace: "shop" },
    state: helmStatus("pending-upgrade", after(2_000), "1.5.0"),
    shown: false,
  },
  {
    action: "helm.rollback",
    name: "rolled back to the revision after the call started",
    input: { release: "payments", namespace: "shop", revision: 3 },
    state: helmStatus("deployed", after(1_000), "1.4.0", "Rollback to 3"),
    shown: true,
  },
  {
    action: "helm.rollback",
    name: "rolled back to another revision",
    input: { release: "payments", namespace: "shop", revision: 3 },
    state: helmStatus("deployed", after(1_000), "1.4.0", "Rollback to 2"),
    shown: false,
  },
  {
    action: "argocd.app_sync",
    name: "a sync that succeeded after the call started, at its revision",
    input: { app: "checkout", revision: "3f9c2ab" },
    state: argoApp("Succeeded", after(500), "3f9c2ab"),
    shown: true,
  },
  {
    action: "argocd.app_sync",
    name: "the last sync is older than the call",
    input: { app: "checkout" },
    state: argoApp("Succeeded", after(-60_000), "3f9c2ab"),
    shown: false,
  },
  {
    action: "argocd.app_sync",
    name: "the sync still running",
    input: { app: "checkout" },
    state: argoApp("Running", after(500), "3f9c2ab"),
    shown: false,
  },
];

describe("effect checks", () => {
  for (const row of table) {
    it(`${row.action}: ${row.name} → ${row.shown ? "shown" : "not shown"}`, () => {
      const check = effectCheckFor(row.action);
      assert.ok(check, `${row.action} has a check`);
      const verdict = check(row.input, row.state, STARTED);
      assert.equal(verdict.shown, row.shown, verdict.detail);
      assert.ok(verdict.detail.length > 0, "the verdict says what it compared");
    });
  }

  it("every action with a check is covered by the table, both ways", () => {
    for (const action of Object.keys(EFFECT_CHECKS)) {
      assert.ok(
        table.some((r) => r.action === action && r.shown),
        `${action} shown`,
      );
      assert.ok(
        table.some((r) => r.action === action && !r.shown),
        `${action} not shown`,
      );
    }
  });

  it("a write whose effect cannot be read back has no check", () => {
    for (const action of ["kubectl.delete", "vault.kv_put", "gh.pr_create", "toString", "constructor"]) {
      assert.equal(effectCheckFor(action), null, action);
    }
  });
});

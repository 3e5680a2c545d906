/**
 * The template planner: every intent from at least three phrasings, and from
 * real Alertmanager alert labels; unrecognized intents fail with examples.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadCatalog } from "../tools/index.ts";
import { checksOf, judge, parseSelector, selectValue } from "../verification/index.ts";
import { createPlanner, intentFromAlert, PlanningFailedError, parseIntent } from "./index.ts";

const catalog = loadCatalog();
const planner = createPlanner({ catalog });
const CONTEXT = {
  services: [
    {
      name: "checkout",
      environment: "staging",
      namespace: "shop",
      replicas: 3,
      helm: { release: "checkout", chart: "shop/checkout", revision: 42 },
      argocd: { app: "checkout-staging", history_id: 7 },
      gitops: { repo: "acme/gitops" },
      vault: { path: "shop/checkout/db", version: 4 },
    },
  ],
};

const table: { kind: string; actions: string[]; phrasings: string[]; expect?: Record<string, unknown> }[] = [
  {
    kind: "scale",
    actions: ["kubectl.get", "kubectl.scale"],
    expect: { replicas: 6 },
    phrasings: [
      "scale checkout to 6 in staging",
      "bump checkout replicas to 6 on staging",
      "set checkout to 6 replicas (staging)",
      "Scale the checkout deployment to 6 replicas in staging.",
      "run 6 replicas of checkout in staging",
      "increase replicas of checkout to 6 on stage",
    ],
  },
  {
    kind: "deploy",
    actions: ["argocd.app_get", "argocd.app_diff", "argocd.app_sync"],
    expect: { version: "v1.4.2", via: "argocd" },
    phrasings: [
      "deploy checkout v1.4.2 to staging",
      "ship checkout v1.4.2 to staging",
      "roll out version v1.4.2 of checkout on stage",
      "sync checkout to v1.4.2 in staging",
    ],
  },
  {
    kind: "deploy",
    actions: ["git.pull_request"],
    expect: { via: "pr" },
    phrasings: [
      "deploy checkout v1.4.2 to staging via PR",
      "release checkout 1.4.2 to staging through a pull request",
      "ship checkout v1.4.2 to staging, open a PR",
    ],
  },
  {
    kind: "helm_upgrade",
    actions: ["helm.history", "helm.upgrade_dry_run", "helm.upgrade"],
    expect: { version: "2.3.0" },
    phrasings: [
      "helm upgrade checkout to 2.3.0 in staging",
      "upgrade the checkout release to 2.3.0 on staging",
      "upgrade helm release checkout to version 2.3.0 (staging)",
      "helm upgrade checkout to 2.3.0 with chart shop/checkout in staging",
    ],
  },
  {
    kind: "helm_rollback",
    actions: ["helm.history", "helm.rollback"],
    phrasings: [
      "roll back checkout in staging",
      "rollback helm release checkout to revision 41 on staging",
      "undo the last checkout release in staging",
      "revert checkout to revision 41 in stage",
    ],
  },
  {
    kind: "restart",
    actions: ["kubectl.rollout_restart"],
    phrasings: [
      "restart checkout in staging",
      "rollout restart checkout on staging",
      "bounce the checkout pods in staging",
      "do a rolling restart of checkout (staging)",
    ],
  },
  {
    kind: "rotate_secret",
    actions: ["vault.kv_metadata_get", "vault.kv_put", "kubectl.rollout_restart"],
    phrasings: [
      "rotate the checkout database password in staging",
      "rotate checkout's api key on staging",
      "rotate the token for checkout in staging",
      "rotate secret shop/checkout/db in staging",
    ],
  },
  {
    kind: "investigate",
    actions: ["kubectl.get", "kubectl.describe", "kubectl.logs", "kubectl.get", "helm.history", "argocd.app_get"],
    phrasings: [
      "investigate checkout in staging",
      "what's wrong with checkout on staging?",
      "look into checkout errors in staging",
      "why is checkout crashlooping in staging",
    ],
  },
];

describe("template planner: plain words", () => {
  for (const row of table) {
    for (const phrasing of row.phrasings) {
      test(`${row.kind}: "${phrasing}"`, async () => {
        const parsed = parseIntent(phrasing);
        assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
        assert.equal(parsed.intent.kind, row.kind);
        assert.equal(parsed.intent.service, "checkout");
        assert.equal(parsed.intent.environment, "staging");
        for (const [k, v] of Object.entries(row.expect ?? {}))
          assert.equal((parsed.intent as Record<string, unknown>)[k], v, k);
        const { plan } = await planner.plan({ intent: phrasing, source: "api", context: CONTEXT });
        assert.equal(plan.planner.kind, "template");
        assert.deepEqual(
          plan.steps.map((s) => s.action_id),
          row.actions,
        );
        for (const step of plan.steps) {
          assert.deepEqual(catalog.validateInput(step.action_id, step.input), { ok: true }, step.action_id);
          assert.equal(step.target.environment, "staging");
          assert.equal(step.target.namespace, "shop");
          if (catalog.get(step.action_id)?.kind === "write") {
            assert.ok(step.expected_effect && step.verification, `${step.action_id} has effect and verification`);
            assert.notEqual(step.rollback, undefined);
          }
        }
      });
    }
  }

  test("writes carry their rollback from the context", async () => {
    const scale = (await planner.plan({ intent: "scale checkout to 6 in staging", source: "api", context: CONTEXT }))
      .plan.steps[1];
    assert.deepEqual(scale?.rollback, {
      action_id: "kubectl.scale",
      input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 3, current_replicas: 6 },
    });
    const sync = (await planner.plan({ intent: "deploy checkout v1.4.2 to staging", source: "api", context: CONTEXT }))
      .plan.steps[2];
    assert.deepEqual(sync?.rollback, {
      action_id: "argocd.app_rollback",
      input: { app: "checkout-staging", history_id: 7 },
    });
    const rotate = (
      await planner.plan({
        intent: "rotate the checkout database password in staging",
        source: "api",
        context: CONTEXT,
      })
    ).plan.steps[1];
    assert.deepEqual(rotate?.input, {
      mount: "secret",
      path: "shop/checkout/db",
      data_refs: { password: "env:WH_ROTATE_CHECKOUT_PASSWORD" },
      cas: 4,
    });
    assert.deepEqual(rotate?.rollback, {
      action_id: "vault.kv_rollback",
      input: { mount: "secret", path: "shop/checkout/db", version: 4 },
    });
  });

  test("a scale is verified by comparing the live ready replicas with the step's input", async () => {
    const scale = (await planner.plan({ intent: "scale checkout to 6 in staging", source: "api", context: CONTEXT }))
      .plan.steps[1];
    assert.ok(scale?.verification);
    assert.equal(scale.verification.action_id, "kubectl.get");
    assert.deepEqual(scale.verification.input, {
      kind: "deployment",
      name: "checkout",
      namespace: "shop",
      output: "json",
    });
    assert.equal(scale.verification.analysis?.provider, "kubectl");
    assert.equal(scale.verification.analysis?.query, ".status.readyReplicas ?? 0");
    const [check] = checksOf(scale.verification, 300_000);
    assert.ok(check);
    const live = JSON.stringify({ status: { readyReplicas: 6 } });
    const at = parseSelector(check.query);
    assert.ok(at.ok);
    const measured = selectValue(live, at.selector);
    assert.equal(judge(check, { value: measured.value, detail: measured.reason }, scale.input).outcome, "pass");
    assert.equal(judge(check, { value: 3, detail: "" }, scale.input).outcome, "fail");
  });

  test("releases, deploys and rollbacks add the service's error ratio when Prometheus is configured", async () => {
    const errorRatio = {
      metric: "http_requests_total",
      max: 0.05,
      rateWindow: "20s",
      initialDelaySeconds: 10,
      intervalSeconds: 5,
      count: 4,
      onInconclusive: "fail" as const,
    };
    const measured = createPlanner({ catalog, template: { errorRatio } });
    const ratio =
      'sum(rate(http_requests_total{namespace="shop",service="checkout",code=~"5.."}[20s])) / sum(rate(http_requests_total{namespace="shop",service="checkout"}[20s]))';
    for (const [intent, read] of [
      ["helm upgrade checkout to 2.3.0 in staging", "helm.status"],
      ["roll back checkout in staging", "helm.status"],
      ["deploy checkout v1.4.2 to staging", "argocd.app_wait"],
    ] as const) {
      const { plan } = await measured.plan({ intent, source: "api", context: CONTEXT });
      const write = plan.steps.at(-1);
      assert.equal(write?.verification?.action_id, read, intent);
      assert.deepEqual(write?.verification?.analysis, {
        provider: "prometheus",
        query: ratio,
        success_condition: "result < 0.05",
        initial_delay_seconds: 10,
        interval_seconds: 5,
        count: 4,
        failure_limit: 0,
        inconclusive_limit: 1,
        on_inconclusive: "fail",
      });
      assert.match(write?.verification?.description ?? "", /error ratio stays below 5%/);
      assert.deepEqual(
        checksOf(write?.verification, 60_000).map((c) => c.provider),
        ["kubectl", "prometheus"],
        "the read first, then the error ratio",
      );
    }
    // Without Prometheus configured the same plans are verified by their read alone.
    const { plan } = await planner.plan({
      intent: "helm upgrade checkout to 2.3.0 in staging",
      source: "api",
      context: CONTEXT,
    });
    assert.equal(plan.steps.at(-1)?.verification?.analysis, undefined);
  });

  test("without context the namespace defaults to the environment, and the plan says so", async () => {
    const { plan } = await planner.plan({ intent: "restart payments on production", source: "api" });
    assert.equal(plan.steps[0]?.target.namespace, "production");
    assert.match(plan.steps[0]?.rationale ?? "", /namespace "production" assumed/);
  });

  for (const [intent, pattern] of [
    ["delete the shop namespace in production", /does not understand .*"scale checkout to 6 in staging"/],
    ["make it faster", /does not understand/],
    ["scale checkout to 6", /say which environment/],
    ["helm upgrade payments to 2.0.0 in production", /needs its chart/],
  ] as const) {
    test(`fails clearly: "${intent}"`, async () => {
      await assert.rejects(planner.plan({ intent, source: "api" }), (error: unknown) => {
        assert.ok(error instanceof PlanningFailedError);
        assert.match(error.reasons.join(" "), pattern);
        assert.equal(error.planner.kind, "template");
        return true;
      });
    });
  }
});

describe("template planner: Alertmanager alerts", () => {
  const alerts = [
    {
      labels: {
        alertname: "KubePodCrashLooping",
        namespace: "shop",
        pod: "payments-api-5c8b9f7d6-9x7lp",
        container: "payments-api",
        job: "kube-state-metrics",
        severity: "warning",
        env: "production",
      },
      service: "payments-api",
      actions: ["kubectl.get", "kubectl.describe", "kubectl.logs", "kubectl.get", "helm.history"],
    },
    {
      labels: {
        alertname: "HighErrorRate",
        service: "checkout",
        namespace: "shop",
        severity: "critical",
        environment: "staging",
      },
      service: "checkout",
      actions: ["kubectl.get", "kubectl.describe", "kubectl.logs", "kubectl.get", "helm.history", "argocd.app_get"],
    },
    {
      labels: {
        alertname: "KubeDeploymentReplicasMismatch",
        deployment: "cart",
        namespace: "shop",
        job: "kube-state-metrics",
        severity: "warning",
        env: "prod",
      },
      service: "cart",
      actions: [
        "kubectl.get",
        "kubectl.describe",
        "kubectl.logs",
        "kubectl.rollout_status",
        "kubectl.get",
        "kubectl.get",
        "helm.history",
      ],
    },
    {
      labels: { alertname: "TargetDown", job: "search", namespace: "search", severity: "warning" },
      service: "search",
      actions: ["kubectl.get", "kubectl.describe", "kubectl.logs", "kubectl.get", "helm.history"],
    },
  ];
  for (const alert of alerts) {
    test(`${alert.labels.alertname} → a read-only investigation of ${alert.service}`, async () => {
      const signal = {
        signal_id: "sig-1",
        source: "alertmanager" as const,
        kind: "alert",
        status: "firing" as const,
        dedupe_key: "k",
        summary: `${alert.labels.alertname} firing`,
        labels: alert.labels as unknown as Record<string, string>,
        annotations: {},
        details: {},
      };
      assert.equal(intentFromAlert(signal)?.service, alert.service);
      const { plan } = await planner.plan({
        intent: `Investigate alert ${alert.labels.alertname}`,
        source: "alert",
        signal,
        context: CONTEXT,
      });
      assert.equal(plan.source, "alert");
      assert.deepEqual(
        plan.steps.map((s) => s.action_id),
        alert.actions,
      );
      for (const step of plan.steps) {
        assert.equal(catalog.get(step.action_id)?.kind, "read", `${step.action_id} is read-only`);
        assert.deepEqual(catalog.validateInput(step.action_id, step.input), { ok: true });
        assert.equal(step.target.namespace, alert.labels.namespace);
      }
      if (alert.labels.alertname === "KubePodCrashLooping") {
        assert.deepEqual(plan.steps[2]?.input, {
          kind: "pod",
          name: alert.labels.pod,
          namespace: "shop",
          previous: true,
          tail_lines: 200,
        });
        assert.equal(plan.steps[0]?.target.environment, "production");
      }
    });
  }

  test("an alert whose rule names its remedy (remediation=scale, replicas=N) → a scale plan, not an investigation", async () => {
    const labels = {
      alertname: "CheckoutReplicasBelowFloor",
      service: "checkout",
      namespace: "shop",
      environment: "production",
      remediation: "scale",
      replicas: "3",
    };
    const signal = {
      signal_id: "sig-2",
      source: "alertmanager" as const,
      kind: "alert",
      status: "firing" as const,
      dedupe_key: "k2",
      summary: "checkout below its floor",
      labels,
      annotations: {},
      details: {},
    };
    assert.deepEqual(intentFromAlert(signal), {
      kind: "scale",
      service: "checkout",
      environment: "production",
      replicas: 3,
      namespace: "shop",
    });
    // A replica count that is not a plain positive number leaves it an investigation.
    assert.equal(intentFromAlert({ ...signal, labels: { ...labels, replicas: "0" } })?.kind, "investigate");
    assert.equal(intentFromAlert({ ...signal, labels: { ...labels, replicas: "3; rm" } })?.kind, "investigate");
    const { plan } = await planner.plan({ intent: "Investigate alert", source: "alert", signal, context: CONTEXT });
    const scale = plan.steps.find((s) => s.action_id === "kubectl.scale");
    assert.equal(scale?.input.replicas, 3);
    assert.equal(scale?.input.namespace, "shop");
  });
});

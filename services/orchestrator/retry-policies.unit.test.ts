/**
 * The retry-policy table against what it governs: every activity the worker
 * registers has a row, every row is an activity type of the contract, the
 * rows become valid Temporal options, and docs/architecture.md shows the
 * table as it is.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { EvidenceStore } from "../../lib/evidence/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { TOOL_ACTIVITY_ACTIONS } from "../../lib/orchestration/workflow.ts";
import { createCapabilityMinter, generateCapabilityKeys, loadCatalog } from "../../lib/tools/index.ts";
import { createActivities } from "./activities.ts";
import { createToolClient } from "./tool-client.ts";
import { type ActivityPolicy, activityOptions, durationMs, RETRY_POLICIES } from "./workflows/retry-policies.ts";

/** The activity types of the contract: the thirteen named ones and the plumbing. */
const CONTRACT = [
  "QueryPrometheusActivity",
  "QueryTempoActivity",
  "ArgoSyncActivity",
  "ArgoWaitActivity",
  "HelmStatusActivity",
  "HelmUpgradeActivity",
  "HelmRollbackActivity",
  "KubectlScaleActivity",
  "KubectlRolloutStatusActivity",
  "CreateGrafanaAnnotationActivity",
  "CreateLinearIssueActivity",
  "CreatePagerDutyIncidentActivity",
  "CreateGitPullRequestActivity",
  "loadPlan",
  "checkApproval",
  "runTool",
  "recordEvent",
];

const registered = () =>
  Object.keys(
    createActivities({
      // Never called: the test reads which activities the factory returns, nothing more.
      store: {} as EventStore,
      tools: createToolClient({ url: "http://127.0.0.1:9" }),
      catalog: loadCatalog(),
      logger: createLogger({ service: "retry-policies-test", level: "silent", format: "json" }),
      capabilities: createCapabilityMinter({ signingKey: generateCapabilityKeys().signingKey }),
      measuring: { evidence: {} as EvidenceStore },
      integrations: { clients: { grafana: null, pagerduty: null, linear: null, github: null } },
    }),
  );

describe("retry-policy table", () => {
  it("has a row for every activity createActivities registers, and registers every activity it has a row for", () => {
    const keys = registered();
    assert.deepEqual(
      keys.filter((k) => !(k in RETRY_POLICIES)),
      [],
      "activities without a retry policy",
    );
    assert.deepEqual(
      Object.keys(RETRY_POLICIES).filter((k) => !keys.includes(k)),
      [],
      "rows of activities nothing registers",
    );
  });

  it("has one row per activity type of the contract, and no other", () => {
    assert.deepEqual(Object.keys(RETRY_POLICIES).sort(), [...CONTRACT].sort());
  });

  it("gives every named tool activity a row that heartbeats and outlives the tool's own timeout", () => {
    for (const type of Object.keys(TOOL_ACTIVITY_ACTIONS)) {
      const options = activityOptions(RETRY_POLICIES[type as keyof typeof RETRY_POLICIES], 120_000);
      assert.ok(typeof options.startToCloseTimeout === "number" && options.startToCloseTimeout > 120_000, type);
      assert.ok(options.heartbeatTimeout !== undefined, `${type} heartbeats`);
    }
  });

  it("becomes valid Temporal retry options: attempts a positive integer or unlimited, intervals ordered", () => {
    for (const [type, policy] of Object.entries(RETRY_POLICIES) as [string, ActivityPolicy][]) {
      const retry = activityOptions(policy, 1000).retry ?? {};
      const attempts = retry.maximumAttempts ?? Number.NaN;
      assert.ok(attempts === Number.POSITIVE_INFINITY || (Number.isInteger(attempts) && attempts > 0), type);
      assert.ok(policy.backoffCoefficient >= 1, type);
      assert.ok(durationMs(policy.initialInterval) <= durationMs(policy.maximumInterval), type);
      assert.ok(policy.nonRetryableErrorTypes.includes("ToolCallRefused"), `${type} never retries a refusal`);
    }
  });

  it("runs only short, non-heartbeating, idempotent bookkeeping as local activities", () => {
    const local = Object.entries(RETRY_POLICIES)
      .filter(([, p]) => (p as ActivityPolicy).runs === "local")
      .map(([type]) => type);
    assert.deepEqual(local.sort(), ["checkApproval", "loadPlan", "recordEvent"]);
    for (const type of local) {
      const policy: ActivityPolicy = RETRY_POLICIES[type as keyof typeof RETRY_POLICIES];
      assert.equal(policy.heartbeatTimeout, null, `${type} cannot heartbeat as a local activity`);
      assert.ok(typeof policy.startToCloseTimeout === "string" && durationMs(policy.startToCloseTimeout) <= 60_000);
    }
  });

  it("reads its durations in milliseconds", () => {
    assert.equal(durationMs("200ms"), 200);
    assert.equal(durationMs("30s"), 30_000);
    assert.equal(durationMs("1m"), 60_000);
    assert.equal(durationMs("1.5s"), 1500);
  });

  it("is shown row for row in docs/architecture.md", () => {
    const docs = readFileSync(new URL("../../docs/architecture.md", import.meta.url), "utf8");
    for (const row of renderRows()) assert.ok(docs.includes(row), `docs/architecture.md lacks the row\n${row}`);
  });
});

/** The table as docs/architecture.md shows it, one markdown row per activity type. */
function renderRows(): string[] {
  return Object.entries(RETRY_POLICIES).map(([type, p]: [string, ActivityPolicy]) => {
    const timeout = p.startToCloseTimeout;
    const cells = [
      `\`${type}\``,
      p.initialInterval,
      String(p.backoffCoefficient),
      p.maximumInterval,
      p.maximumAttempts === Number.POSITIVE_INFINITY ? "unlimited" : String(p.maximumAttempts),
      typeof timeout === "object" ? `tool + ${timeout.toolTimeoutPlus}` : timeout,
      p.heartbeatTimeout ?? "—",
      p.runs === "local" ? "local" : "task queue",
    ];
    return `| ${cells.join(" | ")} |`;
  });
}

/**
 * Verification as analysis, run by the execution workflow against real
 * services: Temporal, NATS, the tool router (in process) running the real
 * kubectl against the local cluster, a real Prometheus (Debian's binary)
 * scraping request counters the test sets, and the Tempo fixture. Each test
 * runs one approved plan and reads what the execution recorded: one
 * `execution.measured` per measurement (with its evidence), the verdict, and
 * the rollback when verification does not pass. The measurement activities
 * are also called directly, for their evidence and a connector left unset.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@temporalio/client";
import type { AnyRecordedEvent, PlanStep } from "../../events/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { cancelSignal, type ExecutePlanInput, type ExecutionOutcome } from "../../lib/orchestration/workflow.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { startTempoFixture, type TempoFixture } from "../../test/fixtures/tempo/server.ts";
import { connectTemporal, type TestTemporal, uniqueName, waitFor } from "../../test/support/index.ts";
import { createHarness, type Harness, seedPlan } from "../../test/support/orchestrator.ts";
import {
  type CounterExporter,
  prometheusBinary,
  startCounterExporter,
  startTestPrometheus,
  type TestPrometheus,
} from "../../test/support/prometheus.ts";
import { createPrometheusActivities } from "./activities/prometheus.ts";
import { createTempoActivities } from "./activities/tempo.ts";
import { routeTemporalLogs, workflowBundle } from "./worker.ts";
import { verdictSignal } from "./workflows/verify.ts";

const catalog = loadCatalog();
const logger = createLogger({ service: "verification-test", level: "warn", format: "json" });

const RATIO = (service: string) =>
  `sum(rate(http_requests_total{service="${service}",code=~"5.."}[5s])) / sum(rate(http_requests_total{service="${service}"}[5s]))`;

describe("verification as analysis (Temporal + NATS + tool router + Prometheus + Tempo)", {
  timeout: 240_000,
  skip: prometheusBinary() ? false : "no prometheus binary",
}, () => {
  let temporal: TestTemporal;
  let client: Client;
  let exporter: CounterExporter;
  let prometheus: TestPrometheus;
  let tempo: TempoFixture;
  // The store, a namespace where a Deployment "web" runs 1 replica, the tool router and one worker for every test.
  let h: Harness;

  before(async () => {
    routeTemporalLogs(logger);
    [temporal, exporter, tempo] = await Promise.all([connectTemporal(), startCounterExporter(), startTempoFixture()]);
    client = temporal.client;
    // Traffic of two services: "good" fails 1 request in 100, "bad" half of them; "quiet" has none.
    const series = (service: string, code: string) => ({ namespace: "shop", service, version: "v1", code });
    for (const service of ["good", "bad", "quiet"]) {
      exporter.set(series(service, "200"), 0);
      exporter.set(series(service, "500"), 0);
    }
    const traffic = setInterval(() => {
      exporter.add(series("good", "200"), 99);
      exporter.add(series("good", "500"), 1);
      exporter.add(series("bad", "200"), 50);
      exporter.add(series("bad", "500"), 50);
    }, 250);
    traffic.unref();
    prometheus = await startTestPrometheus([exporter.target]);
    h = await createHarness({ temporal, catalog, logger, label: "verify", deployment: { name: "web", replicas: 1 } });
    await workflowBundle();
    await h.startWorker({
      shutdownGraceMs: 1000,
      measuring: { prometheusUrl: prometheus.url, tempoUrl: tempo.url },
    });
    // Let Prometheus see a few seconds of traffic: rates need two samples in their window.
    await exporter.scraped(3);
  });

  after(async () => {
    await h?.close();
    await prometheus?.stop();
    await Promise.all([exporter?.close(), tempo?.close()]);
    await temporal?.close();
  });

  const target = () => ({ environment: "staging", service: "web", namespace: h.namespace });
  const deployment = () => ({ kind: "deployment", name: "web", namespace: h.namespace });

  /** A write that is cheap to make and to undo: an annotation, set and set back. */
  function annotateStep(verification: PlanStep["verification"]): PlanStep {
    return {
      step_id: "s1",
      action_id: "kubectl.annotate",
      input: { ...deployment(), annotations: { "wheelhouse.dev/change": "release" } },
      target: target(),
      rationale: "mark the release",
      expected_effect: "the annotation is set",
      verification,
      rollback: {
        action_id: "kubectl.annotate",
        input: { ...deployment(), annotations: { "wheelhouse.dev/change": "none" } },
      },
    };
  }

  /** Runs the plan's revision 1 as the generic execution workflow; answers its outcome and events. */
  async function execute(steps: readonly PlanStep[], during?: (workflowId: string) => Promise<void>) {
    const planId = await seedPlan(h.store, { steps });
    const executionId = uniqueName("ex");
    const input: ExecutePlanInput = {
      execution_id: executionId,
      plan_id: planId,
      revision: 1,
      dry_run: false,
      correlation_id: planId,
      causation_id: executionId,
      verification_timeout_ms: 20_000,
      tool_timeout_ms: 30_000,
    };
    const handle = await client.workflow.start("executePlan", {
      args: [input],
      taskQueue: h.taskQueue,
      workflowId: executionId,
    });
    if (during) await during(executionId);
    const outcome = (await handle.result()) as ExecutionOutcome;
    const events = await h.store.readAggregate("execution", executionId);
    return { outcome, events, executionId };
  }

  const measured = (events: readonly AnyRecordedEvent[]) =>
    events.flatMap((e) => (e.type === "execution.measured" ? [e.payload] : []));

  /** Waits until the execution has recorded a measurement. */
  const firstMeasurement = (workflowId: string, what: string) =>
    waitFor(what, async () => measured(await h.store.readAggregate("execution", workflowId)).length > 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });

  /** The evidence blob an event names, parsed. */
  async function evidenceOf(events: readonly AnyRecordedEvent[], evidenceId: string | undefined) {
    const stored = events.find((e) => e.type === "evidence.stored" && e.payload.evidence_id === evidenceId);
    assert.ok(stored?.type === "evidence.stored", `evidence ${evidenceId} is recorded`);
    return JSON.parse((await h.evidence.readEvidence(stored.payload)).toString("utf8")) as Record<string, unknown>;
  }

  it("compares the live read with what the step set: a scale passes once the replicas are ready", async () => {
    const scale: PlanStep = {
      step_id: "s1",
      action_id: "kubectl.scale",
      input: { ...deployment(), replicas: 3 },
      target: target(),
      rationale: "more capacity",
      expected_effect: "web runs 3 ready replicas",
      verification: {
        description: "web reports 3 ready replicas",
        action_id: "kubectl.get",
        input: { ...deployment(), output: "json" },
        analysis: {
          provider: "kubectl",
          query: ".status.readyReplicas ?? 0",
          success_condition: "result == input.replicas",
          interval_seconds: 1,
          count: 30,
          failure_limit: 29,
          inconclusive_limit: 29,
        },
      },
      rollback: { action_id: "kubectl.scale", input: { ...deployment(), replicas: 1 } },
    };
    const { outcome, events } = await execute([scale]);
    assert.equal(outcome.status, "succeeded", outcome.reason ?? "");
    const ms = measured(events);
    const last = ms.at(-1);
    assert.ok(last);
    assert.deepEqual(
      { provider: last.provider, value: last.value, outcome: last.outcome, query: last.query },
      { provider: "kubectl", value: 3, outcome: "pass", query: "kubectl.get .status.readyReplicas ?? 0" },
    );
    assert.deepEqual(
      ms.map((m) => m.attempt),
      ms.map((_, i) => i + 1),
    );
    assert.ok(ms.every((m) => m.outcome === "pass" || (m.outcome === "fail" && (m.value ?? 0) < 3)));
    // Every measurement is evidence: the read's whole output, as the tool router stored it.
    const blob = await evidenceOf(events, last.evidence_id);
    assert.match(String(blob.stdout), /"readyReplicas": 3/);
    const verified = events.find((e) => e.type === "execution.verified");
    assert.ok(verified?.type === "execution.verified");
    assert.equal(verified.payload.checks[0]?.passed, true);
  });

  it("never counts a query that returns nothing as a pass: inconclusive, then failed and rolled back", async () => {
    const step = annotateStep({
      description: "a service nobody calls stays healthy",
      analysis: {
        provider: "prometheus",
        query: 'sum(rate(http_requests_total{service="nobody"}[5s]))',
        success_condition: "result >= 0",
        interval_seconds: 1,
        count: 3,
        // Even with every inconclusive measurement allowed, nothing was ever seen to pass.
        inconclusive_limit: 3,
      },
    });
    const { outcome, events } = await execute([step]);
    assert.equal(outcome.status, "failed");
    assert.match(outcome.reason ?? "", /verification inconclusive after 3 attempt\(s\).*no measurement passed/);
    assert.deepEqual(outcome.rolled_back_steps, ["s1"]);
    const ms = measured(events);
    assert.deepEqual(
      ms.map((m) => [m.attempt, m.value, m.outcome]),
      [
        [1, null, "inconclusive"],
        [2, null, "inconclusive"],
        [3, null, "inconclusive"],
      ],
    );
    assert.match(ms[0]?.reason ?? "", /no series/);
    const blob = await evidenceOf(events, ms[0]?.evidence_id);
    assert.deepEqual((blob.answer as { data: { result: unknown[] } }).data.result, []);
    assert.ok(events.some((e) => e.type === "execution.verification_failed"));
    assert.ok(events.some((e) => e.type === "execution.rolled_back"));
  });

  it("fails on an error ratio above its limit at the first measurement, and rolls back", async () => {
    const { outcome, events } = await execute([
      annotateStep({
        description: "bad's error ratio stays below 5%",
        analysis: {
          provider: "prometheus",
          query: RATIO("bad"),
          success_condition: "result < 0.05",
          interval_seconds: 1,
          count: 5,
        },
      }),
    ]);
    assert.equal(outcome.status, "failed");
    assert.match(outcome.reason ?? "", /verification failed after 1 attempt\(s\).*rolled back s1/);
    const [first, ...rest] = measured(events);
    assert.equal(rest.length, 0, "stopped at the failure limit");
    assert.equal(first?.outcome, "fail");
    assert.ok(first?.value !== null && Math.abs((first?.value ?? 0) - 0.5) < 0.1, `ratio ${first?.value}`);
  });

  it("passes a healthy error ratio after every measurement, and a Tempo search with no error traces", async () => {
    tempo.addTrace([{ name: "GET /", service: "good", status: "ok", durationMs: 12 }]);
    tempo.addTrace([{ name: "GET /", service: "bad", status: "error", durationMs: 30 }]);
    const ratio = annotateStep({
      description: "good's error ratio stays below 5%",
      analysis: {
        provider: "prometheus",
        query: RATIO("good"),
        success_condition: "result < 0.05",
        interval_seconds: 1,
        count: 2,
      },
    });
    const { outcome, events } = await execute([ratio]);
    assert.equal(outcome.status, "succeeded", outcome.reason ?? "");
    assert.deepEqual(
      measured(events).map((m) => [m.provider, m.outcome]),
      [
        ["prometheus", "pass"],
        ["prometheus", "pass"],
      ],
    );
    const traces = annotateStep({
      description: "good serves no error traces",
      analysis: {
        provider: "tempo",
        query: '{ resource.service.name = "good" && status = error }',
        success_condition: "result < 1",
        tempo: { window_seconds: 600 },
      },
    });
    const t = await execute([traces]);
    assert.equal(t.outcome.status, "succeeded", t.outcome.reason ?? "");
    const [m] = measured(t.events);
    assert.deepEqual([m?.provider, m?.value, m?.outcome], ["tempo", 0, "pass"]);
    const blob = await evidenceOf(t.events, m?.evidence_id);
    assert.equal(blob.provider, "tempo");
    assert.ok(tempo.searches().some((r) => r.query.get("q")?.includes('"good"')));
  });

  it("pauses an inconclusive analysis for a person's verdict when the plan says so", async () => {
    const step = annotateStep({
      description: "quiet's error ratio stays low",
      analysis: {
        provider: "prometheus",
        query: RATIO("quiet"),
        success_condition: "result < 0.05",
        interval_seconds: 1,
        count: 1,
        on_inconclusive: "pause",
        pause_timeout_seconds: 120,
      },
    });
    const { outcome, events } = await execute([step], async (workflowId) => {
      // The one measurement (NaN: no traffic) is recorded before the pause; the verdict follows it.
      await firstMeasurement(workflowId, "the inconclusive measurement");
      await client.workflow
        .getHandle(workflowId)
        .signal(verdictSignal, { decision: "pass", by: "carol", reason: "quiet has no traffic at night" });
    });
    assert.equal(outcome.status, "succeeded", outcome.reason ?? "");
    const [m] = measured(events);
    assert.deepEqual([m?.value, m?.outcome], [null, "inconclusive"]);
    assert.match(m?.reason ?? "", /NaN/);
    const verified = events.find((e) => e.type === "execution.verified");
    assert.ok(verified?.type === "execution.verified");
    assert.match(verified.payload.checks[0]?.detail ?? "", /judged pass by carol: quiet has no traffic at night/);
  });

  it("stops measuring at a cancel during verification: cancelled, no verdict, nothing rolled back", async () => {
    const step = annotateStep({
      description: "a service nobody calls stays healthy",
      analysis: {
        provider: "prometheus",
        query: 'sum(rate(http_requests_total{service="nobody"}[5s]))',
        success_condition: "result >= 0",
        // Long enough that only the cancel can end it within the test.
        interval_seconds: 30,
        count: 20,
        inconclusive_limit: 20,
      },
    });
    const { outcome, events } = await execute([step], async (workflowId) => {
      await firstMeasurement(workflowId, "the first measurement");
      await client.workflow
        .getHandle(workflowId)
        .signal(cancelSignal, { reason: "wrong service", requested_by: "alice" });
    });
    assert.equal(outcome.status, "cancelled", outcome.reason ?? "");
    assert.match(
      outcome.reason ?? "",
      /cancelled by alice: wrong service; verification stopped by a cancel after 1 measurement/,
    );
    assert.match(outcome.reason ?? "", /not rolled back/);
    assert.deepEqual(outcome.rolled_back_steps, []);
    assert.equal(measured(events).length, 1, "no measurement after the cancel");
    const types = events.map((e) => e.type);
    for (const t of ["execution.verified", "execution.verification_failed", "execution.rollback_started"] as const) {
      assert.ok(!types.includes(t), `no ${t}`);
    }
    assert.ok(types.includes("execution.cancelled"));
  });

  it("measures directly: each answer is evidence, and an unset connector says how to set it", async () => {
    const executionId = uniqueName("ex");
    const measuring = { store: h.store, evidence: h.evidence, now: () => new Date() };
    const { QueryPrometheusActivity } = createPrometheusActivities({ ...measuring, url: prometheus.url });
    const refused = await QueryPrometheusActivity({
      execution_id: executionId,
      step_id: "s1",
      attempt: 1,
      query: "sum(",
    });
    assert.equal(refused.value, null);
    assert.match(refused.detail, /bad_data/);
    const events = await h.store.readAggregate("execution", executionId);
    const blob = await evidenceOf(events, refused.evidence_id ?? undefined);
    assert.equal((blob.answer as { errorType: string }).errorType, "bad_data");

    const off = createTempoActivities({ ...measuring, url: undefined });
    const none = await off.QueryTempoActivity({
      execution_id: executionId,
      step_id: "s1",
      attempt: 1,
      query: "{}",
      tags: null,
      window_seconds: 60,
      limit: 20,
      measure: "count",
    });
    assert.equal(none.value, null);
    assert.match(none.detail, /connectors\.tempo\.url is not set/);
  });
});

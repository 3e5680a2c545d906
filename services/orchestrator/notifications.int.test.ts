/**
 * What executions tell the tools people watch, run by the step engine against the real Temporal
 * dev server, real NATS, a real tool router and the real kubectl on the local cluster, with the
 * fixtures speaking each provider's wire format (Grafana's annotations API, PagerDuty Events v2,
 * Linear's GraphQL through @linear/sdk):
 *
 * - a write execution is annotated in Grafana at its start and its end, with its tags;
 * - verification that ends inconclusive, or a rollback that fails, opens a PagerDuty incident;
 * - an incident remediation ends with a Linear follow-up issue;
 * - a notification that fails never fails the execution.
 *
 * What is checked is what each fixture received, and the `execution.notified` events recorded.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AnyRecordedEvent, PlanStep } from "../../events/index.ts";
import {
  createGrafanaAnnotations,
  createLinearIssues,
  createPagerDutyEvents,
  type IntegrationClients,
} from "../../lib/integrations/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { type GrafanaFixture, startGrafanaFixture } from "../../test/fixtures/grafana/server.ts";
import { type LinearFixture, startLinearFixture } from "../../test/fixtures/linear/server.ts";
import { type PagerDutyFixture, startPagerDutyFixture } from "../../test/fixtures/pagerduty/server.ts";
import { connectTemporal, connectTestNats, kubeGet, type TestTemporal } from "../../test/support/index.ts";
import {
  createHarness,
  executionRequested,
  type Harness,
  type SeedOptions,
  seededPlan,
  waitForEnd,
} from "../../test/support/orchestrator.ts";
import { routeTemporalLogs, workflowBundle } from "./worker.ts";

const catalog = loadCatalog();
const logger = createLogger({ service: "orchestrator-notify-test", level: "warn", format: "json" });
const GRAFANA_TOKEN = "glsa_notifyTest_7d1e0a4b";

const ofType = <T extends AnyRecordedEvent["type"]>(all: readonly AnyRecordedEvent[], type: T) =>
  all.filter((e): e is Extract<AnyRecordedEvent, { type: T }> => e.type === type);
const reasonOf = (event: AnyRecordedEvent | undefined) =>
  (event?.payload as { reason?: string } | undefined)?.reason ?? "";
const tagsOf = (post: { json?: unknown } | undefined) => (post?.json as { tags?: string[] } | undefined)?.tags ?? [];
const noticesOf = (all: readonly AnyRecordedEvent[]) =>
  ofType(all, "execution.notified").map((e) => [e.payload.channel, e.payload.phase] as const);

// A loaded two-core machine took up to a minute and a half for one test: the suite gets ten minutes.
describe("execution notifications (Temporal + NATS + tool router + kubectl + fixtures)", { timeout: 600_000 }, () => {
  let nc: NatsConnection;
  let temporal: TestTemporal;
  let grafana: GrafanaFixture;
  let pagerduty: PagerDutyFixture;
  let linear: LinearFixture;

  before(async () => {
    routeTemporalLogs(logger);
    nc = await connectTestNats();
    temporal = await connectTemporal();
    grafana = await startGrafanaFixture(GRAFANA_TOKEN);
    pagerduty = await startPagerDutyFixture();
    linear = await startLinearFixture();
    await workflowBundle();
  });
  after(async () => {
    await linear?.close();
    await pagerduty?.close();
    await grafana?.close();
    await temporal?.close();
    await nc?.drain();
  });

  /** The clients a worker's integration activities use; `broken`: each provider refuses its credentials. */
  const clients = (broken = false): IntegrationClients => ({
    grafana: createGrafanaAnnotations({ url: grafana.url, token: broken ? "glsa_revoked_0000" : GRAFANA_TOKEN }),
    pagerduty: createPagerDutyEvents({
      apiBase: pagerduty.apiBase,
      routingKey: broken ? "0".repeat(32) : pagerduty.routingKey,
    }),
    linear: createLinearIssues({
      apiUrl: linear.graphqlUrl,
      apiKey: broken ? "lin_api_revoked" : linear.apiKey,
      teamKey: "OPS",
    }),
    github: null,
  });

  /** A harness whose worker registers the integration activities and whose starter says executions notify. */
  async function notifyingHarness(broken = false): Promise<Harness> {
    const h = await createHarness({ nc, temporal, catalog, logger });
    await h.startWorker({ integrations: { clients: clients(broken) } });
    await h.startStarter({ integrations: true });
    return h;
  }

  /** Seeds an approved plan, requests its execution, and answers the execution's events once it ended. */
  async function execute(h: Harness, steps: readonly PlanStep[], options: Omit<SeedOptions, "steps"> = {}) {
    const plan = seededPlan({ steps, ...options });
    await h.store.append(plan.events);
    const { executionId, event } = executionRequested(plan.planId);
    await h.store.append([event]);
    const all = await waitForEnd(h.store, executionId, 90_000);
    return { planId: plan.planId, executionId, all, ended: all.at(-1) };
  }

  const annotationsOf = (executionId: string) =>
    grafana.annotationPosts().filter((r) => tagsOf(r).includes(`execution:${executionId}`));
  const alertOf = (executionId: string) => pagerduty.alerts.get(`wheelhouse/${executionId}`);
  const replicasIn = async (namespace: string) =>
    (await kubeGet<{ spec: { replicas: number } }>("deployment/checkout", `--namespace=${namespace}`))?.spec.replicas;

  describe("with every provider answering", () => {
    let h: Harness;
    before(async () => {
      h = await notifyingHarness();
    });
    after(async () => {
      await h?.close();
    });

    /** The harness's Deployment, read back: `{kind, name, namespace}`. */
    const checkout = () => ({ kind: "deployment", name: "checkout", namespace: h.namespace });

    it("annotates a write execution in Grafana at its start and its end, with the execution's tags; a read-only one not at all", async () => {
      const { planId, executionId, all, ended } = await execute(h, [h.scaleStep]);
      assert.equal(ended?.type, "execution.succeeded", reasonOf(ended));

      const posts = annotationsOf(executionId);
      assert.equal(posts.length, 2, "one annotation at the start, one at the end");
      for (const post of posts) {
        assert.equal(post.method, "POST");
        assert.equal(post.pathname, "/api/annotations");
        assert.equal(post.headers.authorization, `Bearer ${GRAFANA_TOKEN}`);
      }
      const [start, end] = posts.map((p) => p.json as { time: number; timeEnd?: number; tags: string[]; text: string });
      const tags = ["wheelhouse", "workflow:ScaleServiceWorkflow", `execution:${executionId}`, `plan:${planId}`];
      assert.deepEqual(start?.tags, [...tags, "phase:start"]);
      assert.match(
        start?.text ?? "",
        new RegExp(`^ScaleServiceWorkflow started: execution ${executionId} of plan ${planId} revision 1`),
      );
      assert.equal(start?.timeEnd, undefined);
      assert.deepEqual(end?.tags, [...tags, "status:succeeded", "phase:end"]);
      assert.equal(end?.text, "ScaleServiceWorkflow succeeded");
      // The end is a region from the start, as recorded; Grafana's own start point is a moment earlier.
      const startNotice = ofType(all, "execution.notified").find((e) => e.payload.phase === "start");
      assert.equal(
        end?.time,
        Date.parse(startNotice?.occurred_at ?? ""),
        "the end annotation is a region from the start",
      );
      assert.ok((start?.time ?? Number.POSITIVE_INFINITY) <= (end?.time ?? 0));
      assert.ok((end?.time ?? Number.POSITIVE_INFINITY) < (end?.timeEnd ?? 0));

      // Recorded: the start before the first step, the end before the execution's final event.
      assert.deepEqual(noticesOf(all), [
        ["grafana", "start"],
        ["grafana", "end"],
      ]);
      const at = (type: string, phase?: string) =>
        all.findIndex(
          (e) => e.type === type && (phase === undefined || (e.payload as { phase?: string }).phase === phase),
        );
      assert.ok(at("execution.notified", "start") < at("execution.step_started"));
      assert.ok(at("execution.notified", "end") < at("execution.succeeded"));
      assert.equal(alertOf(executionId), undefined, "nothing to page for");
      assert.equal(linear.calls("issueCreate").length, 0, "a scale is not an incident remediation");

      const reads = await execute(h, [
        {
          step_id: "r1",
          action_id: "kubectl.get",
          input: { ...checkout(), output: "json" },
          target: h.scaleStep.target,
          rationale: "look at it",
        },
      ]);
      assert.equal(reads.ended?.type, "execution.succeeded", reasonOf(reads.ended));
      assert.deepEqual(annotationsOf(reads.executionId), [], "a plan of reads changes nothing to annotate");
      assert.deepEqual(noticesOf(reads.all), []);
    });

    it("opens a PagerDuty incident when verification ends inconclusive (and rolls back)", async () => {
      const step: PlanStep = {
        ...h.scaleStep,
        verification: {
          description: "checkout's ready replicas read back",
          action_id: "kubectl.get",
          input: { ...checkout(), output: "json" },
          // A field the read's output never has: the measurement has no value, inconclusive.
          analysis: {
            provider: "kubectl",
            query: ".status.noSuchField",
            success_condition: "result == input.replicas",
          },
        },
      };
      const { executionId, all, ended } = await execute(h, [step]);
      assert.equal(ended?.type, "execution.failed");
      assert.match(reasonOf(ended), /verification inconclusive after 1 attempt\(s\)/);
      assert.equal(await replicasIn(h.namespace), 2, "rolled back");
      assert.equal(ofType(all, "execution.measured")[0]?.payload.outcome, "inconclusive");

      const alert = alertOf(executionId);
      assert.equal(alert?.severity, "error");
      assert.equal(alert?.status, "triggered");
      assert.match(
        alert?.summary ?? "",
        new RegExp(`^Wheelhouse execution ${executionId} \\(ScaleServiceWorkflow\\) verification inconclusive: `),
      );
      const sent = pagerduty.enqueued().filter((r) => JSON.stringify(r.json).includes(executionId));
      assert.equal(sent.length, 1);
      assert.equal((sent[0]?.json as { routing_key?: string } | undefined)?.routing_key, pagerduty.routingKey);
      assert.deepEqual(noticesOf(all), [
        ["grafana", "start"],
        ["grafana", "end"],
        ["pagerduty", "incident"],
      ]);
      assert.ok(tagsOf(annotationsOf(executionId)[1]).includes("status:failed"), "the end annotation says failed");
    });

    it("opens a critical PagerDuty incident when a rollback fails", async () => {
      const absent = { kind: "deployment", name: "absent", namespace: h.namespace };
      const steps: PlanStep[] = [
        // The scale is undone by scaling a Deployment that does not exist: the rollback fails.
        { ...h.scaleStep, rollback: { action_id: "kubectl.scale", input: { ...absent, replicas: 2 } } },
        {
          step_id: "s2",
          action_id: "kubectl.describe",
          input: absent,
          target: h.scaleStep.target,
          rationale: "look at the result",
        },
      ];
      const { executionId, all, ended } = await execute(h, steps);
      assert.equal(ended?.type, "execution.failed");
      assert.match(reasonOf(ended), /s1 rollback failed/);

      const alert = alertOf(executionId);
      assert.equal(alert?.severity, "critical");
      assert.match(alert?.summary ?? "", /\(ScaleServiceWorkflow\) rollback incomplete: s1 rollback failed/);
      assert.deepEqual(noticesOf(all), [
        ["grafana", "start"],
        ["grafana", "end"],
        ["pagerduty", "incident"],
      ]);
    });

    it("ends an incident remediation with a Linear follow-up issue", async () => {
      const { executionId, planId, all, ended } = await execute(h, [h.scaleStep], { source: "alert" });
      assert.equal(ended?.type, "execution.succeeded", reasonOf(ended));
      assert.equal(ofType(all, "execution.started")[0]?.payload.workflow_type, "IncidentRemediationWorkflow");

      const created = linear.calls("issueCreate").filter((c) => JSON.stringify(c.variables).includes(executionId));
      assert.equal(created.length, 1);
      const input = created[0]?.variables.input as { id: string; teamId: string; title: string; description: string };
      assert.equal(input.teamId, linear.workspace.team.id);
      assert.equal(input.title, `Follow up: incident remediation ${executionId} succeeded`);
      assert.match(
        input.description,
        new RegExp(`^Execution ${executionId} of plan ${planId} revision 1 succeeded\\.`),
      );
      assert.match(input.description, /Steps:\n- s1: kubectl\.scale/);
      assert.equal(linear.workspace.issues.get(input.id)?.title, input.title, "the issue is in the workspace");
      const follow = ofType(all, "execution.notified").find((e) => e.payload.channel === "linear");
      assert.equal(follow?.payload.phase, "follow_up");
      assert.equal(follow?.payload.ref, input.id);
      assert.ok(tagsOf(annotationsOf(executionId)[0]).includes("workflow:IncidentRemediationWorkflow"));
    });
  });

  it("a notification that fails never fails the execution: the change is made and the problems are in its reason", async () => {
    const h = await notifyingHarness(true);
    try {
      const { executionId, all, ended } = await execute(h, [h.scaleStep], { source: "alert" });
      assert.equal(ended?.type, "execution.succeeded", reasonOf(ended));
      assert.equal(await replicasIn(h.namespace), 4, "the scale was made");
      const reason = reasonOf(ended);
      assert.match(reason, /Grafana start annotation not sent: .*401/);
      assert.match(reason, /Grafana end annotation not sent: .*401/);
      assert.match(reason, /Linear follow-up issue not sent: /);
      assert.ok(!reason.includes("glsa_revoked_0000") && !reason.includes("lin_api_revoked"), "no credential in it");
      // Each annotation was asked for once (a refusal is not retried) and refused; nothing was created.
      const asked = grafana.requests.flatMap((r, i) =>
        r.headers.authorization === "Bearer glsa_revoked_0000" ? [grafana.replies[i]?.status] : [],
      );
      assert.deepEqual(asked, [401, 401], "Grafana was asked at the start and the end, and refused");
      assert.deepEqual(annotationsOf(executionId), []);
      assert.ok(
        linear.requests.some((r) => r.headers.authorization === "lin_api_revoked"),
        "Linear was asked",
      );
      assert.equal(
        linear.calls("issueCreate").filter((c) => JSON.stringify(c.variables).includes(executionId)).length,
        0,
      );
      assert.deepEqual(noticesOf(all), [], "nothing recorded as sent");
    } finally {
      await h.close();
    }
  });
});

/**
 * The planner service against real NATS JetStream (lib/eventstore) and a
 * local evidence folder: plan.requested → plan.proposed with evidence,
 * redelivery never proposes twice, a firing alert becomes an alert-sourced
 * plan request and then a plan, an unknown intent becomes plan.failed, and no
 * secret from the request or the alert reaches the stream or the provider.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Actor, type AnyRecordedEvent, newEvent } from "../../events/index.ts";
import { parseConfig } from "../../lib/config/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createEvidenceStore } from "../../lib/evidence/index.ts";
import { OpenAIClient } from "../../lib/llm/openai.ts";
import { createLLMRouter } from "../../lib/llm/router.ts";
import { createPlanner } from "../../lib/planner/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { answer, GOOD_PLAN, STAGING_CONTEXT } from "../../test/fixtures/llm/plans.ts";
import { type FixtureServer, startFixtureServer } from "../../test/fixtures/llm/server.ts";
import { createTestEventStore, type TestEventStore, uniqueName, waitFor } from "../../test/support/index.ts";
import { createContextReader } from "./context.ts";
import { createPlannerService, type PlannerService, planIdForSignal } from "./service.ts";

const user: Actor = { kind: "user", id: "dana", roles: ["operator"] };
const SECRET = "ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c";

describe("planner service (NATS)", () => {
  let events: TestEventStore;
  let store: EventStore;
  let dir: string;
  let server: FixtureServer;
  const services: PlannerService[] = [];

  before(async () => {
    events = await createTestEventStore("t_planner");
    store = events.store;
    dir = mkdtempSync(join(tmpdir(), "wh-planner-"));
    server = await startFixtureServer();
  });
  after(async () => {
    for (const s of services) await s.stop();
    await events.teardown();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const evidence = () =>
    createEvidenceStore(
      parseConfig({ storage: { evidence: { kind: "local", path: join(dir, "evidence") } } }).storage.evidence,
    );
  const history = (planId: string) => store.readAggregate("plan", planId);
  const outcome = (events: AnyRecordedEvent[]) =>
    events.filter((e) => e.type === "plan.proposed" || e.type === "plan.failed");
  const request = (planId: string, intent: string, extra: Record<string, string> = {}) =>
    newEvent(
      "plan.requested",
      planId,
      { plan_id: planId, intent, source: "api", ...extra },
      { actor: user, correlation_id: planId },
    );

  test("template planner: plan.requested → plan.proposed; a redelivered request does not propose twice", async () => {
    const planner = createPlanner({ catalog: loadCatalog() });
    const service = createPlannerService({ store, planner, durable: uniqueName("planner"), backoffMs: [50] });
    services.push(service);
    await service.start();
    const planId = uniqueName("plan");
    const requested = request(planId, "scale checkout to 6 in staging");
    await store.append([requested], { expectedVersion: "none" });
    const events = await waitFor("plan.proposed", async () => {
      const h = await history(planId);
      return outcome(h).length > 0 ? h : undefined;
    });
    const proposed = events.find((e) => e.type === "plan.proposed");
    assert.ok(proposed && proposed.type === "plan.proposed");
    assert.equal(proposed.payload.planner.kind, "template");
    assert.deepEqual(
      proposed.payload.steps.map((s) => s.action_id),
      ["kubectl.get", "kubectl.scale"],
    );
    assert.equal(proposed.causation_id, requested.id);

    // Redelivery: the same recorded request handled again, twice at once.
    const recorded = events.find((e) => e.type === "plan.requested") as AnyRecordedEvent;
    await Promise.all([service.handle(recorded), service.handle(recorded)]);
    assert.equal(outcome(await history(planId)).length, 1);
  });

  test("an unknown intent becomes plan.failed with the phrasings the planner understands", async () => {
    const planId = uniqueName("plan");
    await store.append([request(planId, "make the website faster")], { expectedVersion: "none" });
    const failed = await waitFor("plan.failed", async () => outcome(await history(planId))[0]);
    assert.equal(failed.type, "plan.failed");
    assert.match(
      failed.type === "plan.failed" ? failed.payload.reasons.join(" ") : "",
      /scale checkout to 6 in staging/,
    );
  });

  test("a firing alert becomes an alert-sourced request and a read-only plan", async () => {
    const signalId = uniqueName("sig");
    const signal = newEvent(
      "signal.received",
      signalId,
      {
        signal_id: signalId,
        source: "alertmanager",
        kind: "alert",
        status: "firing",
        dedupe_key: signalId,
        summary: `KubePodCrashLooping: payments-api; debug token ${SECRET}`,
        environment: "production",
        labels: {
          alertname: "KubePodCrashLooping",
          namespace: "shop",
          pod: "payments-api-5c8b9f7d6-9x7lp",
          container: "payments-api",
          severity: "warning",
        },
        annotations: { description: "Pod is in CrashLoopBackOff" },
      },
      { actor: { kind: "service", id: "gateway", roles: [] }, correlation_id: signalId },
    );
    await store.append([signal], { expectedVersion: "none" });
    const planId = planIdForSignal(signalId);
    const events = await waitFor("alert plan", async () => {
      const h = await history(planId);
      return outcome(h).length > 0 ? h : undefined;
    });
    const requested = events.find((e) => e.type === "plan.requested");
    assert.ok(requested && requested.type === "plan.requested");
    assert.equal(requested.payload.source, "alert");
    assert.equal(requested.payload.signal_id, signalId);
    assert.doesNotMatch(JSON.stringify(events), new RegExp(SECRET), "the secret in the alert is redacted");
    const proposed = events.find((e) => e.type === "plan.proposed");
    assert.ok(proposed && proposed.type === "plan.proposed");
    assert.ok(proposed.payload.steps.every((s) => loadCatalog().get(s.action_id)?.kind === "read"));
  });

  test("LLM planner: prompt and answer stored as evidence, listed in plan.proposed; no secret reaches the provider or the stream", async () => {
    server.setDefault("chat", () => answer("openai-chat", JSON.stringify(GOOD_PLAN)));
    const llm = createLLMRouter(parseConfig({ llm: { provider: "openai" } }).llm, {
      clients: [new OpenAIClient({ apiKey: "sk-fixture", model: "fixture", baseURL: `${server.url}/v1` })],
    });
    const planner = createPlanner({ catalog: loadCatalog(), llm, getContext: async () => STAGING_CONTEXT });
    const ev = evidence();
    const durable = uniqueName("planner_llm");
    const service = createPlannerService({ store, planner, durable, storeEvidence: (m, b) => ev.storeEvidence(m, b) });
    // The template-only service from the first test is still consuming on its own durable: stop it, so this one plans.
    for (const s of services.splice(0)) await s.stop();
    services.push(service);
    await service.start();
    const planId = uniqueName("plan");
    await store.append(
      [
        request(planId, `scale checkout to 6 in staging (GITHUB_TOKEN=${SECRET} in the runbook)`, {
          environment: "staging",
        }),
      ],
      {
        expectedVersion: "none",
      },
    );
    const events = await waitFor("llm plan", async () => {
      const h = await history(planId);
      return outcome(h).length > 0 ? h : undefined;
    });
    const proposed = events.find((e) => e.type === "plan.proposed");
    assert.ok(proposed && proposed.type === "plan.proposed", JSON.stringify(events.map((e) => e.payload)));
    assert.deepEqual(proposed.payload.planner, { kind: "llm", provider: "openai", model: "fixture" });
    const stored = events.filter((e) => e.type === "evidence.stored");
    assert.deepEqual(
      stored.map((e) => (e.type === "evidence.stored" ? e.payload.kind : "")),
      ["prompt", "model_response"],
    );
    assert.deepEqual(
      proposed.payload.evidence_ids,
      stored.map((e) => (e.type === "evidence.stored" ? e.payload.evidence_id : "")),
    );
    for (const e of stored) {
      if (e.type !== "evidence.stored") continue;
      const blob = (await ev.readEvidence(e.payload)).toString("utf8");
      assert.doesNotMatch(blob, new RegExp(SECRET));
      if (e.payload.kind === "prompt") assert.match(blob, /\[REDACTED:github_token:1\]/);
    }
    assert.doesNotMatch(server.receivedText(), new RegExp(SECRET));
    // plan.requested is the gateway's (it holds the intent as given); everything the planner wrote is clean.
    const written = events.filter((e) => e.actor.id === "planner");
    assert.equal(written.length, 3);
    assert.doesNotMatch(JSON.stringify(written), new RegExp(SECRET));
  });

  test("on the read model's graph: the context snapshot is kept as evidence and named by plan.proposed", async () => {
    const rows = [
      {
        node_id: "svc_shop-staging_checkout",
        name: "checkout",
        environment: "staging",
        attributes: { namespace: "shop-staging", replicas: 2, workloads: ["Deployment/checkout"] },
        edges: [{ kind: "depends_on", to: "svc_shop-staging_cart" }],
        updated_at: "2026-01-01T00:00:00.000Z",
      },
      { node_id: "svc_shop-staging_cart", name: "cart", environment: "staging", attributes: {}, edges: [] },
      { node_id: "svc_shop-production_cart", name: "cart", environment: "production", attributes: {}, edges: [] },
    ];
    const planner = createPlanner({ catalog: loadCatalog(), getContext: createContextReader(async () => rows) });
    const ev = evidence();
    const service = createPlannerService({
      store,
      planner,
      durable: uniqueName("planner_ctx"),
      storeEvidence: (m, b) => ev.storeEvidence(m, b),
    });
    for (const s of services.splice(0)) await s.stop();
    services.push(service);
    await service.start();
    const planId = uniqueName("plan");
    await store.append([request(planId, "scale checkout to 6 in staging")], { expectedVersion: "none" });
    const events = await waitFor("plan.proposed", async () => {
      const h = await history(planId);
      return outcome(h).length > 0 ? h : undefined;
    });
    const proposed = events.find((e) => e.type === "plan.proposed");
    assert.ok(proposed && proposed.type === "plan.proposed", JSON.stringify(events.map((e) => e.payload)));
    const context = proposed.payload.context;
    assert.ok(context, "plan.proposed names its context snapshot");
    assert.deepEqual(
      { scope: context.scope, nodes: context.nodes, edges: context.edges, ref: context.ref },
      { scope: { environment: "staging" }, nodes: 2, edges: 1, ref: "context_nodes@2026-01-01T00:00:00.000Z" },
    );
    assert.equal(proposed.payload.steps[1]?.input.namespace, "shop-staging");
    const stored = events.find((e) => e.type === "evidence.stored" && e.payload.kind === "context_snapshot");
    assert.ok(stored && stored.type === "evidence.stored");
    assert.equal(context.evidence_id, stored.payload.evidence_id);
    assert.ok(proposed.payload.evidence_ids.includes(stored.payload.evidence_id));
    // The blob is the snapshot's canonical JSON: its sha256 is the digest plan.proposed records.
    assert.equal(stored.payload.sha256, context.digest);
    const blob = JSON.parse((await ev.readEvidence(stored.payload)).toString("utf8"));
    assert.deepEqual(
      blob.nodes.map((n: { node_id: string }) => n.node_id),
      ["svc_shop-staging_cart", "svc_shop-staging_checkout"],
    );
  });
});

/**
 * The audit API over real HTTP, NATS and Postgres with the real projector:
 * list filters, the NDJSON export re-hashed offline, as-of before and after
 * a change, a scripted change explained, verification that names an altered
 * record, no way to delete, and intake redaction of a pasted secret.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import * as v from "valibot";
import { type Actor, type AnyEvent, newEvent } from "../../events/index.ts";
import { evidenceStoredEvent } from "../../lib/evidence/index.ts";
import {
  AuditExportLineSchema,
  AuditPageSchema,
  AuditVerificationSchema,
  ChangeExplanationSchema,
  ExecutionAsOfSchema,
  PlanAsOfSchema,
} from "../../schemas/api/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { jcs, testEnv, waitFor } from "../../test/support/index.ts";

const planner: Actor = { kind: "service", id: "planner", roles: [] };
const policy: Actor = { kind: "service", id: "policy", roles: [] };
const orchestrator: Actor = { kind: "service", id: "orchestrator", roles: [] };
const GITHUB_TOKEN = `ghp_${"a1B2c3D4e5".repeat(3)}Zy9X8w`;

/** Waits until the wall clock is past `iso`, so that the next append happens strictly later (a condition, not a sleep). */
async function pastMoment(iso: string): Promise<void> {
  await waitFor("the clock to advance", () => Date.now() > Date.parse(iso) + 1 || undefined, {
    timeoutMs: 1000,
    intervalMs: 1,
  });
}

function harness(get: () => TestGateway) {
  const call = (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${get().url}${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
  const problem = async (res: Response, status: number, field?: string) => {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${await res.clone().text()}`);
    assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
    const body = (await res.json()) as { field?: string; fix?: string; detail: string };
    if (field !== undefined) assert.equal(body.field, field, JSON.stringify(body));
    return body;
  };
  const auditCount = async () => {
    const client = new pg.Client({ connectionString: testEnv.pgUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${get().schema}.audit_events`);
      return Number(rows[0]?.n);
    } finally {
      await client.end();
    }
  };
  /** Every event on the stream is in the audit trail. */
  const audited = async () => {
    const last = await get().eventCount();
    await waitFor("the audit trail to catch up", async () => {
      const res = await call("GET", "/v1/audit/verify", { token: await get().token("root", ["admin"]) });
      const body = (await res.json()) as { tail: { audit_event_seq: number | null } };
      return (body.tail.audit_event_seq ?? 0) >= last || undefined;
    });
  };
  return { call, problem, auditCount, audited };
}

describe("audit API over real HTTP, NATS and Postgres", () => {
  let gw: TestGateway;
  let alice: string;
  let bob: string;
  let viewer: string;
  let admin: string;
  const { call, problem, auditCount, audited } = harness(() => gw);

  before(async () => {
    gw = await startTestGateway({ redactPatterns: ["WHK-[0-9]{8}"] });
    alice = await gw.token("alice", ["operator", "approver"]);
    bob = await gw.token("bob", ["approver"]);
    viewer = await gw.token("vic", ["viewer"]);
    admin = await gw.token("root", ["admin"]);
  });
  after(() => gw.stop());

  async function createPlan(body: Record<string, unknown>, token = alice, headers: Record<string, string> = {}) {
    const res = await call("POST", "/v1/plans", { token, body, headers: { prefer: "wait=5", ...headers } });
    assert.equal(res.status, 202, await res.clone().text());
    return (await res.json()) as { id: string; seq: number; redacted?: boolean };
  }

  async function propose(planId: string, evidenceIds: string[] = []) {
    const meta = { actor: planner, correlation_id: `corr-${planId}` };
    await gw.store.append([
      newEvent(
        "plan.proposed",
        planId,
        {
          plan_id: planId,
          revision: 1,
          summary: "scale checkout to 6 replicas",
          steps: [
            {
              step_id: "s1",
              action_id: "kubectl.scale",
              input: { namespace: "shop", name: "checkout", replicas: 6 },
              target: { environment: "staging", service: "checkout", namespace: "shop" },
              rationale: "asked for 6 replicas",
              verification: { description: "6 replicas ready" },
              rollback: { action_id: "kubectl.scale", input: { namespace: "shop", name: "checkout", replicas: 3 } },
            },
          ],
          planner: { kind: "llm", provider: "openai", model: "gpt-test" },
          evidence_ids: evidenceIds,
        },
        meta,
      ),
    ]);
  }

  async function decide(planId: string, decision: "allow" | "require_approval") {
    await gw.store.append([
      newEvent(
        "policy.decided",
        planId,
        {
          plan_id: planId,
          revision: 1,
          decision,
          tier: "T2",
          reasons: ["staging write"],
          approvers_required: decision === "require_approval" ? 1 : 0,
          constraints: {},
          ttl_seconds: 3600,
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
          policy_revision: "bundle-abc123",
          steps: [],
        },
        { actor: policy, correlation_id: `corr-${planId}` },
      ),
    ]);
  }

  it("GET /v1/audit/events goes through lib/audit with every filter", async () => {
    const t0 = new Date().toISOString();
    await pastMoment(t0);
    const svc = `svc${Date.now()}`;
    const p1 = await createPlan({ intent: "restart cart", service: svc, environment: "staging" }, alice, {
      "x-correlation-id": `c1-${svc}`,
    });
    const p2 = await createPlan({ intent: "restart api" }, await gw.token("carol", ["operator"]), {
      "x-correlation-id": `c2-${svc}`,
    });
    await decide(p1.id, "allow");
    await audited();
    const list = async (query: string) => {
      const res = await call("GET", `/v1/audit/events?${query}`, { token: viewer });
      assert.equal(res.status, 200, await res.clone().text());
      return v.parse(AuditPageSchema, await res.json()).items;
    };
    const ids = (items: { aggregate_id: string; action: string }[]) =>
      items.map((i) => `${i.aggregate_id}:${i.action}`).sort();

    assert.deepEqual(ids(await list(`aggregate_id=${p1.id}`)), [`${p1.id}:plan.requested`, `${p1.id}:policy.decided`]);
    assert.deepEqual(ids(await list(`aggregate_type=plan&aggregate_id=${p2.id}`)), [`${p2.id}:plan.requested`]);
    assert.deepEqual(ids(await list(`from=${t0}&actor=carol`)), [`${p2.id}:plan.requested`]);
    assert.deepEqual(ids(await list(`from=${t0}&type=policy.decided`)), [`${p1.id}:policy.decided`]);
    assert.deepEqual(ids(await list(`correlation_id=c2-${svc}`)), [`${p2.id}:plan.requested`]);
    assert.deepEqual(ids(await list(`service=${svc}`)), [`${p1.id}:plan.requested`]);
    // The earlier names still work.
    assert.deepEqual(ids(await list(`since=${t0}&actor_id=carol&action=plan.requested`)), [`${p2.id}:plan.requested`]);
    const before = await list(`to=${t0}&aggregate_id=${p1.id}`);
    assert.equal(before.length, 0, "nothing of the plan happened before it was requested");
    // Paging with the cursor walks the same records.
    const first = (await (await call("GET", `/v1/audit/events?from=${t0}&limit=2`, { token: viewer })).json()) as {
      items: { seq: number }[];
      next_cursor: string | null;
    };
    assert.equal(first.items.length, 2);
    assert.ok(first.next_cursor);
    const next = await list(`from=${t0}&limit=2&cursor=${first.next_cursor}`);
    assert.ok((next[0] as { seq: number }).seq > (first.items[1]?.seq ?? Infinity));

    const bad = await problem(
      await call("GET", "/v1/audit/events?from=yesterday", { token: viewer }),
      400,
      "query.from",
    );
    assert.match(bad.fix ?? "", /2026-01-31T12:00:00Z/);
    await problem(
      await call("GET", "/v1/audit/events?aggregate_type=bogus", { token: viewer }),
      400,
      "query.aggregate_type",
    );
    await problem(await call("GET", "/v1/audit/events?cursor=bm9wZQ", { token: viewer }), 400, "query.cursor");
    await problem(await call("GET", "/v1/audit/events"), 401);
  });

  it("exports NDJSON, streamed, whose records re-hash offline and end with the chain proof", async () => {
    const plan = await createPlan({ intent: "annotate checkout" });
    await propose(plan.id);
    await audited();
    for (const request of [
      () => call("GET", "/v1/audit/events.ndjson", { token: viewer }),
      () => call("GET", "/v1/audit/events", { token: viewer, headers: { accept: "application/x-ndjson" } }),
    ]) {
      const res = await request();
      assert.equal(res.status, 200, await res.clone().text());
      assert.match(res.headers.get("content-type") ?? "", /^application\/x-ndjson/);
      assert.equal(res.headers.get("transfer-encoding"), "chunked", "streamed, not sent as one buffered body");
      assert.equal(res.headers.get("content-length"), null);
      const lines = (await res.text()).split("\n").filter(Boolean);
      const parsed = lines.map((l) => v.parse(AuditExportLineSchema, JSON.parse(l)));
      const records = parsed.filter((l) => l.kind === "audit_record");
      const proof = parsed[parsed.length - 1];
      assert.equal(proof?.kind, "chain_proof");
      assert.ok(records.length >= 3);
      let prev = "0".repeat(64);
      for (const [i, r] of records.entries()) {
        assert.equal(r.seq, i + 1);
        assert.equal(r.prev_hash, prev, `record ${r.seq} links to the one before`);
        const hash = createHash("sha256").update(r.prev_hash).update(jcs(r.record)).digest("hex");
        assert.equal(hash, r.hash, `record ${r.seq} re-hashes`);
        prev = r.hash;
      }
      if (proof?.kind !== "chain_proof") throw new Error("no proof");
      assert.equal(proof.verified, true);
      assert.equal(proof.head_hash, prev);
      assert.equal(proof.exported, records.length);
    }
    // Filtered: the plan's records only; the proof still covers the whole chain.
    const filtered = await call("GET", `/v1/audit/events.ndjson?aggregate_id=${plan.id}`, { token: viewer });
    const lines = (await filtered.text())
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const mine = lines.filter((l) => l.kind === "audit_record");
    assert.deepEqual(
      mine.map((l) => l.record.action),
      ["plan.requested", "plan.proposed"],
    );
    const proof = lines[lines.length - 1];
    assert.equal(proof.kind, "chain_proof");
    assert.equal(proof.exported, 2);
    assert.ok(proof.head_seq >= mine[1].seq);
    await problem(await call("GET", "/v1/audit/events.ndjson?from=soon", { token: viewer }), 400, "query.from");
    await problem(await call("GET", "/v1/audit/events.ndjson?limit=5", { token: viewer }), 400, "query.limit");
  });

  it("as-of: 404 before the plan existed, then the plan as it was at each moment", async () => {
    const beforeAll = new Date().toISOString();
    await pastMoment(beforeAll);
    const plan = await createPlan({ intent: "scale checkout to 6 in staging", environment: "staging" });
    const afterRequest = new Date().toISOString();
    await pastMoment(afterRequest);
    await propose(plan.id);
    await decide(plan.id, "require_approval");
    const approved = await call("POST", "/v1/approvals", {
      token: bob,
      body: { plan_id: plan.id, revision: 1, digest: await gw.digestOf(plan.id), decision: "grant" },
      headers: { prefer: "wait=5" },
    });
    assert.equal(approved.status, 202);
    const afterApproval = new Date().toISOString();

    const missing = await problem(
      await call("GET", `/v1/plans/${plan.id}/as-of?at=${beforeAll}`, { token: viewer }),
      404,
      "query.at",
    );
    assert.match(missing.detail, /did not exist/);

    const then = v.parse(
      PlanAsOfSchema,
      await (await call("GET", `/v1/plans/${plan.id}/as-of?at=${afterRequest}`, { token: viewer })).json(),
    );
    assert.equal(then.state.status, "requested");
    assert.equal(then.state.revision, null);
    assert.equal(then.events, 1);

    const now = v.parse(
      PlanAsOfSchema,
      await (await call("GET", `/v1/plans/${plan.id}/as-of?at=${afterApproval}`, { token: viewer })).json(),
    );
    assert.equal(now.state.status, "approved");
    assert.equal(now.state.steps.length, 1);
    assert.equal(now.state.approvals.length, 1);
    // The replay equals the read model (what GET /v1/plans/{id} serves).
    const current = (await (await call("GET", `/v1/plans/${plan.id}`, { token: viewer })).json()) as {
      status: string;
      version: number;
      decision: string;
      approvals_granted: number;
    };
    assert.equal(now.state.status, current.status);
    assert.equal(now.last_seq, current.version);
    assert.equal(now.state.decision, current.decision);
    assert.equal(now.state.approvals_granted, current.approvals_granted);

    // Executions too.
    const run = await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 1 } });
    assert.equal(run.status, 202);
    const executionId = ((await run.json()) as { id: string }).id;
    await problem(await call("GET", `/v1/executions/${executionId}/as-of?at=${afterApproval}`, { token: viewer }), 404);
    const exec = v.parse(
      ExecutionAsOfSchema,
      await (
        await call("GET", `/v1/executions/${executionId}/as-of?at=${new Date(Date.now() + 1000).toISOString()}`, {
          token: viewer,
        })
      ).json(),
    );
    assert.equal(exec.state.status, "requested");
    assert.equal(exec.state.plan_id, plan.id);

    const bad = await problem(
      await call("GET", `/v1/plans/${plan.id}/as-of?at=yesterday`, { token: viewer }),
      400,
      "query.at",
    );
    assert.match(bad.fix ?? "", /RFC 3339/);
    await problem(await call("GET", `/v1/plans/${plan.id}/as-of`, { token: viewer }), 400, "query.at");
    await problem(await call("GET", `/v1/plans/${plan.id}/as-of?at=2026-01-31`, { token: viewer }), 400, "query.at");
  });

  it("explains a scripted change: intent, redacted prompt and answer, revision, policy, approval, tool call, verification", async () => {
    const plan = await createPlan({
      intent: "scale checkout to 6 in staging",
      environment: "staging",
      service: "checkout",
    });
    const corr = `corr-${plan.id}`;
    const prompt = await gw.evidence.storeEvidence(
      { owner_type: "plan", owner_id: plan.id, kind: "prompt", content_type: "text/plain", redacted: true },
      "system: you plan changes\nuser: scale checkout to 6 (token [REDACTED:github_token:1])",
    );
    const answer = await gw.evidence.storeEvidence(
      {
        owner_type: "plan",
        owner_id: plan.id,
        kind: "model_response",
        content_type: "application/json",
        redacted: true,
      },
      '{"steps":[{"action_id":"kubectl.scale"}]}',
    );
    await gw.store.append([
      evidenceStoredEvent(
        { owner_type: "plan", owner_id: plan.id, kind: "prompt", content_type: "text/plain", redacted: true },
        prompt,
        { actor: planner, correlation_id: corr },
      ),
      evidenceStoredEvent(
        {
          owner_type: "plan",
          owner_id: plan.id,
          kind: "model_response",
          content_type: "application/json",
          redacted: true,
        },
        answer,
        { actor: planner, correlation_id: corr },
      ),
    ]);
    await propose(plan.id, [prompt.evidence_id, answer.evidence_id]);
    await decide(plan.id, "require_approval");
    const granted = await call("POST", "/v1/approvals", {
      token: bob,
      body: { plan_id: plan.id, revision: 1, digest: await gw.digestOf(plan.id), decision: "grant", comment: "lgtm" },
      headers: { prefer: "wait=5" },
    });
    assert.equal(granted.status, 202, await granted.clone().text());
    const run = await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 1 } });
    assert.equal(run.status, 202, await run.clone().text());
    const executionId = ((await run.json()) as { id: string }).id;

    const toolCallId = `tc-${plan.id}`;
    const outputMeta = {
      owner_type: "execution" as const,
      owner_id: executionId,
      kind: "tool_output" as const,
      content_type: "text/plain",
      redacted: true,
    };
    const output = await gw.evidence.storeEvidence(outputMeta, "deployment.apps/checkout scaled\n");
    const em = { actor: orchestrator, correlation_id: corr };
    const events: AnyEvent[] = [
      newEvent(
        "execution.started",
        executionId,
        { execution_id: executionId, plan_id: plan.id, workflow_id: `wf-${executionId}` },
        em,
      ),
      newEvent(
        "tool_call.started",
        executionId,
        {
          execution_id: executionId,
          tool_call_id: toolCallId,
          step_id: "s1",
          action_id: "kubectl.scale",
          argv: ["kubectl", "scale", "deployment/checkout", "--replicas=6", "-n", "shop"],
          binary: "kubectl",
          via: "cli",
          dry_run: false,
        },
        em,
      ),
      evidenceStoredEvent(outputMeta, output, em),
      newEvent(
        "tool_call.completed",
        executionId,
        {
          execution_id: executionId,
          tool_call_id: toolCallId,
          step_id: "s1",
          status: "succeeded",
          exit_code: 0,
          duration_ms: 812,
          truncated: false,
          stdout_sha256: output.sha256,
          evidence_id: output.evidence_id,
        },
        em,
      ),
      newEvent(
        "execution.verified",
        executionId,
        { execution_id: executionId, step_id: "s1", checks: [{ description: "6 replicas ready", passed: true }] },
        em,
      ),
      newEvent("execution.succeeded", executionId, { execution_id: executionId, plan_id: plan.id }, em),
    ];
    await gw.store.append(events);
    await audited();

    const res = await call("GET", `/v1/plans/${plan.id}/explain?verify_evidence=true`, { token: viewer });
    assert.equal(res.status, 200, await res.clone().text());
    const story = v.parse(ChangeExplanationSchema, await res.json());
    assert.equal(story.plan_id, plan.id);
    assert.equal(story.intent?.text, "scale checkout to 6 in staging");
    assert.equal(story.intent?.requested_by.id, "alice");
    assert.match(story.planner.prompt[0]?.content ?? "", /\[REDACTED:github_token:1\]/);
    assert.equal(story.planner.model_response[0]?.content, '{"steps":[{"action_id":"kubectl.scale"}]}');
    assert.equal(story.revisions[0]?.revision, 1);
    assert.equal((story.revisions[0]?.steps[0] as { action_id?: string } | undefined)?.action_id, "kubectl.scale");
    assert.equal(story.policy[0]?.decision, "require_approval");
    assert.equal(story.policy[0]?.policy_revision, "bundle-abc123");
    const grant = story.approvals.find((a) => a.status === "granted");
    assert.equal(grant?.actor.id, "bob");
    assert.equal(grant?.comment, "lgtm");
    assert.ok(grant?.at);
    const execution = story.executions[0];
    assert.equal(execution?.execution_id, executionId);
    assert.equal(execution?.status, "succeeded");
    assert.equal(execution?.requested?.actor.id, "alice");
    const call0 = execution?.tool_calls[0];
    assert.deepEqual(call0?.argv, ["kubectl", "scale", "deployment/checkout", "--replicas=6", "-n", "shop"]);
    assert.equal(call0?.exit_code, 0);
    assert.equal(call0?.output?.evidence_id, output.evidence_id);
    assert.equal(call0?.output?.sha256, output.sha256);
    assert.equal(call0?.output?.verified, true);
    assert.equal(execution?.verification[0]?.passed, true);
    assert.deepEqual(execution?.rollback, []);
    // Every item points at its audit record.
    assert.ok(story.timeline.length >= 12);
    assert.ok(
      story.timeline.every((e) => e.audit !== null),
      "every event is in the audit chain",
    );

    const byExecution = v.parse(
      ChangeExplanationSchema,
      await (await call("GET", `/v1/executions/${executionId}/explain`, { token: viewer })).json(),
    );
    assert.equal(byExecution.plan_id, plan.id);
    assert.equal(byExecution.executions[0]?.tool_calls[0]?.tool_call_id, toolCallId);

    await problem(await call("GET", "/v1/plans/no-such-plan/explain", { token: viewer }), 404, "params.id");
    await problem(await call("GET", `/v1/plans/${executionId}/explain`, { token: viewer }), 404, "params.id");
    await problem(await call("GET", `/v1/executions/${plan.id}/explain`, { token: viewer }), 404, "params.id");
    await problem(
      await call("GET", `/v1/plans/${plan.id}/explain?verify_evidence=maybe`, { token: viewer }),
      400,
      "query.verify_evidence",
    );
  });

  it("redacts a secret pasted into an intent before plan.requested is appended", async () => {
    const intent = `scale checkout to 6, use token ${GITHUB_TOKEN} and ticket WHK-12345678`;
    const res = await call("POST", "/v1/plans", { token: alice, body: { intent }, headers: { prefer: "wait=5" } });
    assert.equal(res.status, 202);
    const accepted = (await res.json()) as { id: string; redacted: boolean };
    assert.equal(accepted.redacted, true);
    const [requested] = await gw.store.readAggregate("plan", accepted.id);
    assert.equal(requested?.type, "plan.requested");
    const recorded = (requested?.payload as { intent?: string } | undefined)?.intent ?? "";
    assert.doesNotMatch(recorded, /ghp_/);
    assert.match(recorded, /\[REDACTED:github_token\]/);
    assert.match(recorded, /\[REDACTED:[^\]]+\]$/, "configured llm.redact_patterns apply too");
    assert.match(recorded, /^scale checkout to 6, use token/);
    // Nowhere on the stream, in the read model or in the audit trail.
    for await (const batch of gw.store.readStream({ fromSeq: 1 })) {
      for (const event of batch) assert.doesNotMatch(JSON.stringify(event), /ghp_|WHK-1234/);
    }
    await audited();
    const exported = await (await call("GET", "/v1/audit/events.ndjson", { token: viewer })).text();
    assert.doesNotMatch(exported, /ghp_/);
    const plan = (await (await call("GET", `/v1/plans/${accepted.id}`, { token: viewer })).json()) as {
      intent: string;
    };
    assert.equal(plan.intent, recorded);
    const clean = await createPlan({ intent: "restart cart in staging" });
    assert.equal(clean.redacted, false);
  });

  it("has no way to change or delete the trail: DELETE, PUT, PATCH, POST on audit paths are 405 and append nothing", async () => {
    await audited();
    const events = await gw.eventCount();
    const records = await auditCount();
    for (const [method, path] of [
      ["DELETE", "/v1/audit/events"],
      ["DELETE", "/v1/audit/events/1"],
      ["DELETE", "/v1/audit/events.ndjson"],
      ["PUT", "/v1/audit/events/1"],
      ["PATCH", "/v1/audit/events/1"],
      ["POST", "/v1/audit/events"],
      ["DELETE", "/v1/audit/verify"],
      ["POST", "/v1/audit/purge"],
    ] as const) {
      const res = await call(method, path, { token: admin, ...(method === "DELETE" ? {} : { body: {} }) });
      assert.equal(res.status, 405, `${method} ${path}: ${res.status}`);
      assert.equal(res.headers.get("allow"), "GET", `${method} ${path}`);
    }
    const doc = (await (await call("GET", "/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      assert.equal(ops.delete, undefined, `${path} has no DELETE`);
      if (path.includes("audit")) assert.deepEqual(Object.keys(ops), ["get"], path);
    }
    assert.equal(await gw.eventCount(), events);
    assert.equal(await auditCount(), records);
  });

  it("serves the projector lag on /metrics and documents the audit routes and /v1/ws", async () => {
    const metrics = await (await call("GET", "/metrics")).text();
    assert.match(metrics, /wheelhouse_projector_lag_events\{projection="plans"\} \d+/);
    assert.match(metrics, /wheelhouse_projector_lag_ms\{projection="audit"\} \d+/);
    const doc = (await (await call("GET", "/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    const access = (path: string) => doc.paths[path]?.get?.["x-wheelhouse-access"];
    assert.equal(access("/v1/audit/events"), "viewer");
    assert.equal(access("/v1/audit/events.ndjson"), "viewer");
    assert.equal(access("/v1/audit/verify"), "admin");
    assert.equal(access("/v1/plans/{id}/as-of"), "viewer");
    assert.equal(access("/v1/executions/{id}/as-of"), "viewer");
    assert.equal(access("/v1/plans/{id}/explain"), "viewer");
    assert.equal(access("/v1/executions/{id}/explain"), "viewer");
    const ndjson = doc.paths["/v1/audit/events.ndjson"]?.get?.responses as Record<string, { content: object }>;
    assert.ok(Object.keys(ndjson["200"]?.content ?? {}).includes("application/x-ndjson"));
    const ws = doc.paths["/v1/ws"]?.get as {
      responses: Record<string, unknown>;
      security: unknown[];
      "x-websocket": { clientMessages: { $ref: string } };
    };
    assert.ok(ws.responses["101"]);
    assert.equal(ws["x-websocket"].clientMessages.$ref, "#/components/schemas/WsClientMessage");
    assert.ok(doc.components.schemas.WsClientMessage);
    assert.ok(doc.components.schemas.WsServerMessage);
    assert.ok(doc.components.securitySchemes.accessTokenQuery);
    // The documentation entry does not shadow the live endpoint.
    assert.notEqual((await call("GET", "/v1/ws", { token: viewer })).status, 426);
  });
});

describe("audit verification over the API", () => {
  let gw: TestGateway;
  const { call, problem, audited } = harness(() => gw);

  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.stop());

  it("is admin only, reports an intact chain, then names the exact record altered behind the trigger and the altered blob", async () => {
    const admin = await gw.token("root", ["admin"]);
    const viewer = await gw.token("vic", ["viewer"]);
    const alice = await gw.token("alice", ["operator"]);
    const ids: string[] = [];
    for (const intent of ["restart cart", "scale api to 3", "annotate checkout"]) {
      const res = await call("POST", "/v1/plans", { token: alice, body: { intent } });
      ids.push(((await res.json()) as { id: string }).id);
    }
    const meta = {
      owner_type: "plan" as const,
      owner_id: ids[0] as string,
      kind: "prompt" as const,
      content_type: "text/plain",
      redacted: true,
    };
    const blob = await gw.evidence.storeEvidence(meta, "prompt text");
    await gw.store.append([evidenceStoredEvent(meta, blob, { actor: planner, correlation_id: "c" })]);
    await audited();

    await problem(await call("GET", "/v1/audit/verify", { token: viewer }), 403);
    const ok = v.parse(
      AuditVerificationSchema,
      await (await call("GET", "/v1/audit/verify?evidence=true", { token: admin })).json(),
    );
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal(ok.chain.checked, 4);
    assert.equal(ok.tail.behind, 0);
    assert.equal(ok.evidence?.checked, 1);
    await problem(await call("GET", "/v1/audit/verify?evidence=yes", { token: admin }), 400, "query.evidence");

    // Alter record 2 the way a superuser would: around the append-only trigger.
    const client = new pg.Client({ connectionString: testEnv.pgUrl });
    await client.connect();
    let target: { seq: number; event_id: string };
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL session_replication_role = replica");
      const { rows } = await client.query<{ seq: string; event_id: string }>(
        `UPDATE ${gw.schema}.audit_events SET payload = jsonb_set(payload, '{intent}', '"delete everything"')
          WHERE seq = 2 RETURNING seq, event_id`,
      );
      await client.query("COMMIT");
      target = { seq: Number(rows[0]?.seq), event_id: String(rows[0]?.event_id) };
    } finally {
      await client.end();
    }
    writeFileSync(fileURLToPath(blob.uri), "prompt text, edited");

    const broken = v.parse(
      AuditVerificationSchema,
      await (await call("GET", "/v1/audit/verify?evidence=true", { token: admin })).json(),
    );
    assert.equal(broken.ok, false, JSON.stringify(broken));
    assert.equal(broken.chain.failure?.kind, "altered");
    assert.equal(broken.chain.failure?.seq, target.seq);
    assert.equal(broken.chain.failure?.event_id, target.event_id);
    assert.match(broken.chain.failure?.message ?? "", /audit record 2/);
    assert.equal(broken.evidence?.failures[0]?.evidence_id, blob.evidence_id);
    assert.equal(broken.evidence?.failures[0]?.reason, "mismatch");
    const chainOnly = v.parse(
      AuditVerificationSchema,
      await (await call("GET", "/v1/audit/verify", { token: admin })).json(),
    );
    assert.equal(chainOnly.evidence, null);
    assert.equal(chainOnly.chain.failure?.seq, 2);
    // The export's lines are the hashed texts: the altered column cannot leak into them, so they still prove themselves...
    const exportLines = async (query: string) =>
      (await (await call("GET", `/v1/audit/events.ndjson${query}`, { token: viewer })).text())
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { kind: string; seq: number; record: { payload: { intent?: string } } });
    const plain = await exportLines("");
    assert.equal(plain.find((l) => l.seq === 2)?.record.payload.intent, "scale api to 3");
    assert.equal((plain[plain.length - 1] as unknown as { verified: boolean }).verified, true);
    // ...and with check_columns=true the proof also compares the table with them, and names the record.
    const checked = await exportLines("?check_columns=true");
    const proof = checked[checked.length - 1] as unknown as {
      verified: boolean;
      failure: { seq: number; kind: string };
    };
    assert.equal(proof.verified, false);
    assert.equal(proof.failure.seq, 2);
    assert.equal(proof.failure.kind, "altered");
  });
});

/**
 * The gateway's defects from the adversarial review (issue 14: 6, 7, 9, 10), as a table of the
 * attacker's exact requests. Each asserts the HTTP answer and that nothing was appended to the
 * events stream where nothing should be (its last sequence, read before and after).
 */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import { newEvent } from "../../events/index.ts";
import { executionIdOf, planRevisionDigest } from "../../lib/domain/index.ts";
import { proposeAndDecide, startTestGateway, type TestGateway } from "../../test/support/gateway.ts";

/** The digest of the empty steps these tests propose: what their approvals name. */
const EMPTY_DIGEST = planRevisionDigest([]);

const fixture = (path: string) =>
  readFileSync(new URL(`../../test/fixtures/webhooks/${path}`, import.meta.url), "utf8");
const now = () => Math.floor(Date.now() / 1000);
const YEAR = 365 * 24 * 3600;

interface Call {
  method?: string;
  token?: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

function caller(gw: () => TestGateway) {
  return (path: string, o: Call = {}) =>
    fetch(`${gw().url}${path}`, {
      method: o.method ?? (o.body !== undefined || o.raw !== undefined ? "POST" : "GET"),
      headers: {
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.body !== undefined || o.raw !== undefined ? { "content-type": "application/json" } : {}),
        ...o.headers,
      },
      ...(o.raw !== undefined ? { body: o.raw } : o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
}

describe("adversarial requests against the gateway (real HTTP, NATS, Postgres)", () => {
  let gw: TestGateway;
  let alice: string;
  let bob: string;
  let root: string;
  const call = caller(() => gw);

  before(async () => {
    gw = await startTestGateway();
    alice = await gw.token("alice", ["operator"]);
    bob = await gw.token("bob", ["approver"]);
    root = await gw.token("root", ["admin"]);
  });
  after(() => gw.stop());

  /** Runs `request`, asserts its status (and field), and that the events stream did not grow; returns the body. */
  async function refusedWithNothingAppended(request: () => Promise<Response>, status: number, field?: string) {
    const before = await gw.eventCount();
    const res = await request();
    const text = await res.text();
    assert.equal(res.status, status, text);
    if (field !== undefined) assert.equal((JSON.parse(text) as { field?: string }).field, field, text);
    assert.equal(await gw.eventCount(), before, `something was appended by a request answered ${res.status}`);
    return JSON.parse(text) as unknown;
  }

  async function newPlan(intent = "scale checkout to 4 in staging") {
    const res = await call("/v1/plans", { token: alice, body: { intent }, headers: { prefer: "wait=5" } });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as { id: string }).id;
  }

  describe("defect 6: a request answered 4xx takes no effect", () => {
    it("POST /v1/plans?wait=abc with a valid body: 400 query.wait, and no plan", async () => {
      await refusedWithNothingAppended(
        () => call("/v1/plans?wait=abc", { token: alice, body: { intent: "scale checkout to 6 in staging" } }),
        400,
        "query.wait",
      );
    });

    it("the same with an Idempotency-Key leaves no claim behind: the fixed request then creates the plan", async () => {
      const headers = { "idempotency-key": "adv-wait-abc" };
      const body = { intent: "scale checkout to 7 in staging" };
      await refusedWithNothingAppended(() => call("/v1/plans?wait=abc", { token: alice, body, headers }), 400);
      const before = await gw.eventCount();
      const fixed = await call("/v1/plans?wait=1", { token: alice, body, headers });
      assert.equal(fixed.status, 202, await fixed.clone().text());
      assert.equal(((await fixed.json()) as { duplicate: boolean }).duplicate, false);
      assert.equal(await gw.eventCount(), before + 1);
    });

    /**
     * One case per route of the table: a request that is valid but for one part. Each invalid variant
     * must be refused with 400 naming that part and append nothing; the valid control then passes
     * validation (and, for commands and webhooks, appends), so the table can fail.
     */
    interface RouteCase {
      readonly path: string;
      readonly call: Call;
      /** Whether the valid control appends. */
      readonly appends: boolean;
      readonly invalid: readonly {
        name: string;
        path?: string;
        headers?: Record<string, string>;
        /** In place of the control's body. */
        body?: unknown;
        field: string;
      }[];
    }

    const badQuery = { name: "an unknown query parameter", field: "query.bogus" };
    const commandHeaders = [
      { name: "?wait=abc", field: "query.wait" },
      { name: "Prefer: wait=abc", headers: { prefer: "respond-async, wait=abc" }, field: "Prefer" },
      { name: "an Idempotency-Key with a space", headers: { "idempotency-key": "a b" }, field: "Idempotency-Key" },
      { name: "If-Match that is no version", headers: { "if-match": '"latest"' }, field: "If-Match" },
      { name: "a malformed X-Correlation-ID", headers: { "x-correlation-id": "<script>" }, field: "X-Correlation-Id" },
    ];
    const github = (body: string) => ({
      "x-github-event": "push",
      "x-github-delivery": `adv-${Math.random()}`,
      "x-hub-signature-256": `sha256=${createHmac("sha256", gw.secrets.githubSecret ?? "")
        .update(body)
        .digest("hex")}`,
    });

    const cases: Record<string, () => Promise<RouteCase>> = {
      "POST /v1/plans": async () => ({
        path: "/v1/plans",
        call: { token: alice, body: { intent: "restart checkout in staging" } },
        appends: true,
        invalid: [badQuery, ...commandHeaders],
      }),
      "POST /v1/plans/{id}:execute": async () => {
        const planId = await newPlan("annotate checkout");
        await proposeAndDecide(gw.store, planId, "allow");
        return {
          path: `/v1/plans/${planId}:execute`,
          call: { token: alice, body: { revision: 1 } },
          appends: true,
          invalid: [
            badQuery,
            ...commandHeaders,
            { name: "a malformed plan id", path: "/v1/plans/bad!id:execute", field: "params.id" },
          ],
        };
      },
      "POST /v1/executions/{id}:cancel": async () => {
        const planId = await newPlan("annotate checkout before a cancel");
        await proposeAndDecide(gw.store, planId, "allow");
        const executed = await call(`/v1/plans/${planId}:execute`, { token: alice, body: { revision: 1 } });
        assert.equal(executed.status, 202, await executed.clone().text());
        const executionId = executionIdOf(planId, 1);
        return {
          path: `/v1/executions/${executionId}:cancel`,
          call: { token: alice, body: { reason: "wrong cluster" } },
          appends: true,
          invalid: [
            badQuery,
            ...commandHeaders,
            { name: "a malformed execution id", path: "/v1/executions/bad!id:cancel", field: "params.id" },
            { name: "a reason of blanks", body: { reason: "   " }, field: "body.reason" },
            { name: "no reason", body: {}, field: "body.reason" },
            { name: "an extra field", body: { reason: "x", rollback: true }, field: "body.rollback" },
          ],
        };
      },
      "POST /v1/executions/{id}:verdict": async () => {
        const planId = await newPlan("annotate checkout before a verdict");
        await proposeAndDecide(gw.store, planId, "allow");
        const executed = await call(`/v1/plans/${planId}:execute`, { token: alice, body: { revision: 1 } });
        assert.equal(executed.status, 202, await executed.clone().text());
        const executionId = executionIdOf(planId, 1);
        // Paused as the workflow leaves it: started, then waiting for a verdict on s1's analysis.
        const orchestrator = {
          actor: { kind: "service" as const, id: "orchestrator", roles: [] },
          correlation_id: planId,
        };
        await gw.store.append([
          newEvent(
            "execution.started",
            executionId,
            { execution_id: executionId, plan_id: planId, workflow_id: executionId },
            orchestrator,
          ),
          newEvent(
            "execution.paused",
            executionId,
            {
              execution_id: executionId,
              step_id: "s1",
              check: "checkout's error ratio stays low",
              reason: "no measurement passed",
              attempts: 1,
              deadline: new Date(Date.now() + 3_600_000).toISOString(),
            },
            orchestrator,
          ),
        ]);
        return {
          path: `/v1/executions/${executionId}:verdict`,
          call: { token: alice, body: { decision: "pass", reason: "no traffic at night" } },
          appends: true,
          invalid: [
            badQuery,
            ...commandHeaders,
            { name: "a malformed execution id", path: "/v1/executions/bad!id:verdict", field: "params.id" },
            { name: "no decision", body: { reason: "x" }, field: "body.decision" },
            { name: "a decision of maybe", body: { decision: "maybe", reason: "x" }, field: "body.decision" },
            { name: "a reason of blanks", body: { decision: "pass", reason: "   " }, field: "body.reason" },
            { name: "an extra field", body: { decision: "pass", reason: "x", force: true }, field: "body.force" },
          ],
        };
      },
      "POST /v1/approvals": async () => {
        const planId = await newPlan("scale checkout to 2 in production");
        await proposeAndDecide(gw.store, planId, "require_approval");
        return {
          path: "/v1/approvals",
          call: { token: bob, body: { plan_id: planId, revision: 1, digest: EMPTY_DIGEST, decision: "grant" } },
          appends: true,
          invalid: [badQuery, ...commandHeaders],
        };
      },
      "POST /v1/hooks/alertmanager": async () => ({
        path: "/v1/hooks/alertmanager",
        call: {
          raw: fixture("alertmanager/firing.json").replace("c6a0b1f2d3e4a5b6", "adadadad00000001"),
          headers: { authorization: `Bearer ${gw.secrets.alertmanagerToken}` },
        },
        appends: true,
        invalid: [badQuery],
      }),
      "POST /v1/hooks/argocd": async () => ({
        path: "/v1/hooks/argocd",
        call: {
          raw: fixture("argocd/sync-failed.json").replace("2026-03-01T10:05:00Z", "2026-03-02T11:00:00Z"),
          headers: { "x-wheelhouse-token": gw.secrets.argocdSecret ?? "" },
        },
        appends: true,
        invalid: [badQuery],
      }),
      "POST /v1/hooks/git": async () => {
        const raw = fixture("github/push.json");
        return { path: "/v1/hooks/git", call: { raw, headers: github(raw) }, appends: true, invalid: [badQuery] };
      },
      // Refused before its handler: no approvals service answers here, and no signing secret is set.
      "POST /v1/webhooks/linear": async () => ({
        path: "/v1/webhooks/linear",
        call: {
          raw: JSON.stringify({ action: "update", type: "Issue", webhookTimestamp: Date.now(), data: { id: "i" } }),
          headers: { "linear-signature": "0".repeat(64), "linear-delivery": "d-1" },
        },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/plans": async () => ({
        path: "/v1/plans",
        call: { token: root },
        appends: false,
        invalid: [badQuery, { name: "?limit=abc", path: "/v1/plans?limit=abc", field: "query.limit" }],
      }),
      "GET /v1/plans/{id}": async () => ({
        path: "/v1/plans/p-1",
        call: { token: root },
        appends: false,
        invalid: [badQuery, { name: "a malformed id", path: "/v1/plans/bad!id", field: "params.id" }],
      }),
      "GET /v1/plans/{id}/as-of": async () => ({
        path: `/v1/plans/p-1/as-of?at=${new Date().toISOString()}`,
        call: { token: root },
        appends: false,
        invalid: [{ name: "no time", path: "/v1/plans/p-1/as-of", field: "query.at" }],
      }),
      "GET /v1/plans/{id}/explain": async () => ({
        path: "/v1/plans/p-1/explain",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/executions": async () => ({
        path: "/v1/executions",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/executions/{id}": async () => ({
        path: "/v1/executions/e-1",
        call: { token: root },
        appends: false,
        invalid: [badQuery, { name: "a malformed id", path: "/v1/executions/bad!id", field: "params.id" }],
      }),
      "GET /v1/executions/{id}/logs": async () => ({
        path: "/v1/executions/e-1/logs",
        call: { token: root },
        appends: false,
        invalid: [badQuery, { name: "Last-Event-ID: x", headers: { "last-event-id": "x" }, field: "Last-Event-Id" }],
      }),
      "GET /v1/me": async () => ({
        path: "/v1/me",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/executions/{id}/measurements": async () => ({
        path: "/v1/executions/e-1/measurements",
        call: { token: root },
        appends: false,
        invalid: [badQuery, { name: "a malformed id", path: "/v1/executions/bad!id/measurements", field: "params.id" }],
      }),
      "GET /v1/executions/{id}/as-of": async () => ({
        path: `/v1/executions/e-1/as-of?at=${new Date().toISOString()}`,
        call: { token: root },
        appends: false,
        invalid: [{ name: "a bad time", path: "/v1/executions/e-1/as-of?at=yesterday", field: "query.at" }],
      }),
      "GET /v1/executions/{id}/explain": async () => ({
        path: "/v1/executions/e-1/explain",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/audit/events": async () => ({
        path: "/v1/audit/events",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/audit/events.ndjson": async () => ({
        path: "/v1/audit/events.ndjson",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/audit/verify": async () => ({
        path: "/v1/audit/verify",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/context/services": async () => ({
        path: "/v1/context/services",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/context/services/{name}": async () => ({
        path: "/v1/context/services/checkout",
        call: { token: root },
        appends: false,
        invalid: [badQuery],
      }),
      "GET /v1/ws": async () => ({ path: "/v1/ws", call: {}, appends: false, invalid: [badQuery] }),
    };

    it("the table has a case for every route", () => {
      const routes = gw.gateway.routes.map((r) => `${r.method} ${r.path}`).sort();
      assert.deepEqual(Object.keys(cases).sort(), routes);
    });

    for (const [route, make] of Object.entries(cases)) {
      it(`${route}: a valid request but for one part is refused with 400 and appends nothing`, async () => {
        const c = await make();
        for (const variant of c.invalid) {
          let path = variant.path ?? c.path;
          const sep = path.includes("?") ? "&" : "?";
          if (variant.path === undefined && variant.field === "query.bogus") path += `${sep}bogus=1`;
          if (variant.path === undefined && variant.field === "query.wait") path += `${sep}wait=abc`;
          const request = {
            ...c.call,
            ...(variant.body !== undefined ? { body: variant.body } : {}),
            headers: { ...c.call.headers, ...variant.headers },
          };
          await refusedWithNothingAppended(() => call(path, request), 400, variant.field).catch((e: unknown) => {
            throw new Error(`${route} with ${variant.name}: ${(e as Error).message}`);
          });
        }
        // The control: the same request without the bad part passes validation.
        if (route === "GET /v1/executions/{id}/logs") return; // a valid one is a stream: served in sse.unit.test.ts
        const before = await gw.eventCount();
        const res = await call(c.path, c.call);
        assert.notEqual(res.status, 400, `${route} control: ${await res.clone().text()}`);
        await res.body?.cancel();
        if (c.appends) {
          assert.ok(res.status < 300, `${route} control answered ${res.status}`);
          assert.ok((await gw.eventCount()) > before, `${route} control appended nothing`);
        }
      });
    }
  });

  describe("defect 7: a retry by key answers at once after a crash", () => {
    /** Leaves the KV entry a gateway killed mid-command leaves: a pending claim of a process that is gone. */
    async function crashedClaim(actorId: string, operation: string, key: string, body: unknown, params = {}) {
      const kv = await new Kvm(gw.nc).open(`${gw.prefix}_idem`);
      const kvKey = createHash("sha256").update(`${actorId}\n${operation}\n${key}`).digest("hex");
      const fingerprint = createHash("sha256")
        .update(JSON.stringify({ p: params, b: body }))
        .digest("hex");
      await kv.put(
        kvKey,
        new TextEncoder().encode(
          JSON.stringify({ state: "pending", fingerprint, claimed_at: Date.now(), holder: "killed-process" }),
        ),
      );
    }

    it("the approval had landed: the retry answers the original approval at once, duplicate, nothing appended", async () => {
      const planId = await newPlan("scale checkout to 3 in production");
      await proposeAndDecide(gw.store, planId, "require_approval");
      const body = { plan_id: planId, revision: 1, digest: EMPTY_DIGEST, decision: "grant" };
      const headers = { "idempotency-key": "adv-approval-crash" };
      const first = await call("/v1/approvals", { token: bob, body, headers });
      assert.equal(first.status, 202, await first.clone().text());
      const original = (await first.json()) as { id: string; seq: number };
      // The process died after the append, before it stored the answer.
      await crashedClaim("bob", "decide-approval", headers["idempotency-key"], body);
      const started = Date.now();
      const answer = (await refusedWithNothingAppended(
        () => call("/v1/approvals", { token: bob, body, headers }),
        202,
      )) as { id: string; seq: number; duplicate: boolean };
      assert.ok(Date.now() - started < 5_000);
      assert.deepEqual(answer, { ...answer, id: original.id, seq: original.seq, duplicate: true });
      assert.equal(
        (await gw.store.readAggregate("plan", planId)).filter((e) => e.type === "approval.granted").length,
        1,
      );
    });

    it("the plan had not been appended: the retry goes ahead at once and creates it once", async () => {
      const body = { intent: "restart checkout in staging after the crash" };
      const headers = { "idempotency-key": "adv-create-crash" };
      await crashedClaim("alice", "create-plan", headers["idempotency-key"], body);
      const before = await gw.eventCount();
      const res = await call("/v1/plans", { token: alice, body, headers });
      assert.equal(res.status, 202, await res.clone().text());
      const answer = (await res.json()) as { id: string; duplicate: boolean };
      assert.equal(answer.duplicate, false);
      assert.equal(await gw.eventCount(), before + 1);
      assert.equal((await gw.store.readAggregate("plan", answer.id)).length, 1);
    });
  });

  describe("defect 9: token lifetime", () => {
    const post = (token: string) => call("/v1/plans", { token, body: { intent: "scale checkout to 5 in staging" } });
    const claims = { sub: "mallory", groups: ["wheelhouse-admins"] };

    it("a token whose iat is a year in the future: 401 iat, nothing appended", async () => {
      const token = await gw.idp.sign(claims, { issuedAt: now() + YEAR, expiresIn: now() + YEAR + 300 });
      await refusedWithNothingAppended(() => post(token), 401, "iat");
    });

    it("a token with a ten-year exp: 401 exp, nothing appended", async () => {
      const token = await gw.idp.sign(claims, { expiresIn: now() + 10 * YEAR });
      await refusedWithNothingAppended(() => post(token), 401, "exp");
    });

    it("a token issued two days ago, still unexpired: 401 iat, nothing appended", async () => {
      const token = await gw.idp.sign(claims, { issuedAt: now() - 2 * 24 * 3600, expiresIn: now() + 300 });
      await refusedWithNothingAppended(() => post(token), 401, "iat");
    });
  });

  describe("defect 10: response headers", () => {
    it("authenticated answers, refusals and problems carry nosniff and no-store", async () => {
      const answers = [
        await call("/v1/plans", { token: root }),
        await call("/v1/plans", { token: alice, body: { intent: "scale checkout to 8 in staging" } }),
        await call("/v1/plans"),
        await call("/v1/plans/bad!id", { token: root }),
      ];
      assert.deepEqual(
        answers.map((r) => r.status),
        [200, 202, 401, 400],
      );
      for (const res of answers) {
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", res.url);
        assert.equal(res.headers.get("cache-control"), "no-store", res.url);
        await res.body?.cancel();
      }
    });
  });
});

describe("defect 10: failed authentications are rate limited per address", () => {
  let gw: TestGateway;
  const call = caller(() => gw);
  before(async () => {
    gw = await startTestGateway({ projector: false, gateway: { auth_failures_per_minute: 3 } });
  });
  after(() => gw.stop());

  it("after 3 failures a valid token and a valid webhook get 429 with Retry-After; nothing is appended", async () => {
    const before = await gw.eventCount();
    const body = { intent: "scale checkout to 9 in staging" };
    for (const token of ["abc.def.ghi", await gw.idp.sign({ sub: "m" }, { expiresIn: now() - 600 })]) {
      assert.equal((await call("/v1/plans", { token, body })).status, 401);
    }
    // A wrong webhook secret is a failed authentication too.
    const wrong = await call("/v1/hooks/argocd", {
      raw: fixture("argocd/sync-failed.json"),
      headers: { "x-wheelhouse-token": "guess" },
    });
    assert.equal(wrong.status, 401);
    const valid = await call("/v1/plans", { token: await gw.token("alice", ["operator"]), body });
    assert.equal(valid.status, 429, await valid.clone().text());
    assert.ok(Number(valid.headers.get("retry-after")) >= 1);
    const hook = await call("/v1/hooks/argocd", {
      raw: fixture("argocd/sync-failed.json"),
      headers: { "x-wheelhouse-token": gw.secrets.argocdSecret ?? "" },
    });
    assert.equal(hook.status, 429);
    assert.equal(await gw.eventCount(), before);
  });
});

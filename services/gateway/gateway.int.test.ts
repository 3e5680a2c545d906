import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as v from "valibot";
import { newEvent } from "../../events/index.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import { ExecutionResponseSchema, PlanPageSchema, PlanResponseSchema } from "../../schemas/api/index.ts";
import { proposeAndDecide, startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { waitFor } from "../../test/support/index.ts";

/** The digest of the empty steps these tests propose: what their approvals name. */
const EMPTY_DIGEST = planRevisionDigest([]);

describe("gateway over real HTTP, NATS and Postgres", () => {
  let gw: TestGateway;
  let alice: string;
  let bob: string;
  let viewer: string;

  before(async () => {
    gw = await startTestGateway();
    alice = await gw.token("alice", ["operator", "approver"]);
    bob = await gw.token("bob", ["approver"]);
    viewer = await gw.token("vic", ["viewer"]);
  });
  after(() => gw.stop());

  const call = (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; raw?: string | Uint8Array; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined || opts.raw !== undefined ? { "content-type": "application/json" } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined
        ? { body: JSON.stringify(opts.body) }
        : opts.raw !== undefined
          ? { body: opts.raw }
          : {}),
    });

  async function createPlan(body: Record<string, unknown>, token = alice, headers: Record<string, string> = {}) {
    const res = await call("POST", "/v1/plans", { token, body, headers: { prefer: "wait=5", ...headers } });
    assert.equal(res.status, 202, await res.clone().text());
    return (await res.json()) as { id: string; seq: number; location: string; projected?: boolean; duplicate: boolean };
  }

  async function problem(res: Response, status: number, field?: string) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${await res.clone().text()}`);
    assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
    const body = (await res.json()) as {
      status: number;
      field?: string;
      fix?: string;
      detail: string;
      current_version?: number;
    };
    assert.equal(body.status, status);
    if (field !== undefined) assert.equal(body.field, field, JSON.stringify(body));
    return body;
  }

  it("POST /v1/plans appends plan.requested with the actor, answers 202 + Location, and with Prefer: wait the plan is readable", async () => {
    const before = await gw.eventCount();
    const res = await call("POST", "/v1/plans", {
      token: alice,
      body: { intent: "scale checkout to 6 in staging", environment: "staging", service: "checkout" },
      headers: { prefer: "wait=5" },
    });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { id: string; location: string; seq: number; projected: boolean };
    assert.equal(res.headers.get("location"), `/v1/plans/${body.id}`);
    assert.equal(body.projected, true);
    assert.equal(res.headers.get("preference-applied"), "wait=5");
    assert.equal(await gw.eventCount(), before + 1);
    const [event] = await gw.store.readAggregate("plan", body.id);
    assert.equal(event?.type, "plan.requested");
    assert.deepEqual(event?.actor, {
      kind: "user",
      id: "alice",
      roles: ["approver", "operator"],
      groups: ["wheelhouse-approvers", "wheelhouse-operators"],
    });
    const read = await call("GET", body.location, { token: viewer });
    assert.equal(read.status, 200);
    // The response is what the OpenAPI document says it is.
    const plan = v.parse(PlanResponseSchema, await read.json());
    assert.equal(plan.plan_id, body.id);
    assert.equal(plan.status, "requested");
    assert.equal(plan.service, "checkout");
  });

  it("?wait= works like Prefer: wait", async () => {
    const res = await call("POST", "/v1/plans?wait=5", { token: alice, body: { intent: "restart cart" } });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { location: string; projected: boolean };
    assert.equal(body.projected, true);
    assert.equal((await call("GET", body.location, { token: viewer })).status, 200);
  });

  it("GET /v1/plans/{id} of an unknown plan is a 404 problem naming the field", async () => {
    await problem(await call("GET", "/v1/plans/nope-123", { token: viewer }), 404, "params.id");
  });

  it("GET /v1/plans filters by service and environment and pages with a cursor", async () => {
    const svc = `svc${Date.now()}`;
    for (let i = 0; i < 3; i++) await createPlan({ intent: `change ${i}`, service: svc, environment: "prod" });
    await createPlan({ intent: "other env", service: svc, environment: "staging" });
    const first = v.parse(
      PlanPageSchema,
      await (await call("GET", `/v1/plans?service=${svc}&environment=prod&limit=2`, { token: viewer })).json(),
    );
    assert.equal(first.items.length, 2);
    assert.ok(first.next_cursor);
    const second = (await (
      await call("GET", `/v1/plans?service=${svc}&environment=prod&limit=2&cursor=${first.next_cursor}`, {
        token: viewer,
      })
    ).json()) as { items: { intent: string }[]; next_cursor: string | null };
    assert.equal(second.items.length, 1);
    assert.equal(second.next_cursor, null);
    const intents = [...first.items, ...second.items].map((p) => p.intent).sort();
    assert.deepEqual(intents, ["change 0", "change 1", "change 2"]);
    await problem(await call("GET", "/v1/plans?status=bogus", { token: viewer }), 400, "query.status");
    await problem(await call("GET", "/v1/plans?limit=0", { token: viewer }), 400, "query.limit");
    await problem(await call("GET", "/v1/plans?cursor=bm90LWEtY3Vyc29y", { token: viewer }), 400);
    await problem(await call("GET", "/v1/plans?colour=red", { token: viewer }), 400, "query.colour");
  });

  it("refuses bad bodies with a clear 4xx, appends nothing, and keeps serving", async () => {
    const before = await gw.eventCount();
    const unknown = await problem(
      await call("POST", "/v1/plans", { token: alice, body: { intent: "x", colour: "red" } }),
      400,
      "body.colour",
    );
    assert.match(unknown.fix ?? "", /remove/);
    await problem(await call("POST", "/v1/plans", { token: alice, body: { intent: 42 } }), 400, "body.intent");
    await problem(await call("POST", "/v1/plans", { token: alice, body: {} }), 400, "body.intent");
    await problem(await call("POST", "/v1/plans", { token: alice, body: { intent: "   " } }), 400, "body.intent");
    await problem(await call("POST", "/v1/plans", { token: alice, raw: '{"intent": "x",' }), 400, "body");
    await problem(await call("POST", "/v1/plans", { token: alice, raw: "" }), 400, "body");
    const invalidUtf8 = Buffer.concat([Buffer.from('{"intent": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const utf8 = await problem(await call("POST", "/v1/plans", { token: alice, raw: invalidUtf8 }), 400, "body");
    assert.match(utf8.detail, /UTF-8/);
    const big = JSON.stringify({ intent: "x".repeat(1_100_000) });
    await problem(await call("POST", "/v1/plans", { token: alice, raw: big }), 413, "body");
    const form = await fetch(`${gw.url}/v1/plans`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}`, "content-type": "text/plain" },
      body: "intent=x",
    });
    await problem(form, 415, "Content-Type");
    assert.equal(await gw.eventCount(), before);
    assert.equal((await call("GET", "/healthz")).status, 200);
  });

  it("needs a valid token and the right role; refusals append nothing", async () => {
    const before = await gw.eventCount();
    const missing = await call("POST", "/v1/plans", { body: { intent: "x" } });
    await problem(missing, 401, "Authorization");
    assert.match(missing.headers.get("www-authenticate") ?? "", /Bearer/);
    await problem(await call("POST", "/v1/plans", { token: viewer, body: { intent: "x" } }), 403);
    await problem(
      await call("POST", "/v1/approvals", {
        token: viewer,
        body: { plan_id: "p", revision: 1, digest: EMPTY_DIGEST, decision: "grant" },
      }),
      403,
    );
    await problem(await call("GET", "/v1/plans", { token: "not.a.jwt" }), 401);
    assert.equal(await gw.eventCount(), before);
  });

  it("Idempotency-Key: a retry returns the first answer and appends nothing; another body with the key is 422", async () => {
    const key = `k-${Date.now()}`;
    const first = await call("POST", "/v1/plans", {
      token: alice,
      body: { intent: "idempotent" },
      headers: { "idempotency-key": key },
    });
    assert.equal(first.status, 202);
    const firstBody = (await first.json()) as { id: string };
    const before = await gw.eventCount();
    const retry = await call("POST", "/v1/plans", {
      token: alice,
      body: { intent: "idempotent" },
      headers: { "idempotency-key": key },
    });
    assert.equal(retry.status, 202);
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.equal(((await retry.json()) as { id: string }).id, firstBody.id);
    assert.equal(await gw.eventCount(), before);
    await problem(
      await call("POST", "/v1/plans", {
        token: alice,
        body: { intent: "something else" },
        headers: { "idempotency-key": key },
      }),
      422,
      "Idempotency-Key",
    );
    // Another caller's identical key is theirs, not a replay of alice's.
    const other = await call("POST", "/v1/plans", {
      token: await gw.token("carol", ["operator"]),
      body: { intent: "idempotent" },
      headers: { "idempotency-key": key },
    });
    assert.notEqual(((await other.json()) as { id: string }).id, firstBody.id);
    assert.equal(await gw.eventCount(), before + 1);
  });

  it("executes an allowed plan once; a second request is 409 with the execution's location", async () => {
    const plan = await createPlan({ intent: "annotate checkout" });
    await proposeAndDecide(gw.store, plan.id, "allow");
    const res = await call("POST", `/v1/plans/${plan.id}:execute`, {
      token: alice,
      body: { revision: 1 },
      headers: { prefer: "wait=5" },
    });
    assert.equal(res.status, 202, await res.clone().text());
    const body = (await res.json()) as { id: string; location: string; projected: boolean };
    assert.equal(res.headers.get("location"), `/v1/executions/${body.id}`);
    const events = await gw.store.readAggregate("execution", body.id);
    assert.equal(events[0]?.type, "execution.requested");
    assert.equal(events[0]?.actor.id, "alice");
    const again = await problem(
      await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 1 } }),
      409,
      "revision",
    );
    assert.match(JSON.stringify(again), new RegExp(body.id));
    const read = await call("GET", body.location, { token: viewer });
    assert.equal(read.status, 200);
    const execution = v.parse(ExecutionResponseSchema, await read.json());
    assert.equal(execution.plan_id, plan.id);
    const list = (await (await call("GET", `/v1/executions?plan_id=${plan.id}`, { token: viewer })).json()) as {
      items: unknown[];
    };
    assert.equal(list.items.length, 1);
    await problem(await call("GET", "/v1/executions/none-such", { token: viewer }), 404);
  });

  it("a dry run does not use up the revision: the real run of it is still accepted, as its own execution", async () => {
    const plan = await createPlan({ intent: "annotate checkout, dry run first" });
    await proposeAndDecide(gw.store, plan.id, "allow");
    const dry = await call("POST", `/v1/plans/${plan.id}:execute`, {
      token: alice,
      body: { revision: 1, dry_run: true },
    });
    assert.equal(dry.status, 202, await dry.clone().text());
    const dryId = ((await dry.json()) as { id: string }).id;
    const real = await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 1 } });
    assert.equal(real.status, 202, await real.clone().text());
    const realId = ((await real.json()) as { id: string }).id;
    assert.notEqual(realId, dryId);
    const [dryEvent] = await gw.store.readAggregate("execution", dryId);
    const [realEvent] = await gw.store.readAggregate("execution", realId);
    assert.ok(dryEvent?.type === "execution.requested" && realEvent?.type === "execution.requested");
    assert.equal(dryEvent.payload.dry_run, true);
    assert.equal(realEvent.payload.dry_run, false);
    // Each kind still runs once per revision.
    await problem(
      await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 1, dry_run: true } }),
      409,
      "revision",
    );
  });

  it("refuses execution without the approvals policy requires, before a decision, or when denied; nothing appended", async () => {
    const plan = await createPlan({ intent: "helm upgrade checkout" });
    const before = await gw.eventCount();
    await problem(
      await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 1 } }),
      409,
      "plan_id",
    );
    assert.equal(await gw.eventCount(), before);
    await proposeAndDecide(gw.store, plan.id, "require_approval");
    const after2 = await gw.eventCount();
    await problem(
      await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 1 } }),
      403,
      "revision",
    );
    await problem(
      await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 2 } }),
      409,
      "revision",
    );
    await problem(
      await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: "1" } }),
      400,
      "body.revision",
    );
    await problem(await call("POST", `/v1/plans/${plan.id}:run`, { token: alice, body: { revision: 1 } }), 404);
    assert.equal(await gw.eventCount(), after2);
    const denied = await createPlan({ intent: "delete everything" });
    await proposeAndDecide(gw.store, denied.id, "deny");
    await problem(await call("POST", `/v1/plans/${denied.id}:execute`, { token: alice, body: { revision: 1 } }), 403);
  });

  it("approvals: self-approval refused, another approver's grant lets it run, stale writes are 409 with the current version", async () => {
    const plan = await createPlan({ intent: "rotate the db password" });
    await proposeAndDecide(gw.store, plan.id, "require_approval");
    await problem(
      await call("POST", "/v1/approvals", {
        token: alice,
        body: { plan_id: plan.id, revision: 1, digest: EMPTY_DIGEST, decision: "grant" },
      }),
      403,
      "plan_id",
    );
    await problem(
      await call("POST", "/v1/approvals", {
        token: bob,
        body: { plan_id: plan.id, revision: 1, digest: EMPTY_DIGEST, decision: "maybe" },
      }),
      400,
      "body.decision",
    );
    const history = await gw.store.readAggregate("plan", plan.id);
    const version = history[history.length - 1]?.seq ?? 0;
    const stale = await problem(
      await call("POST", "/v1/approvals", {
        token: bob,
        body: { plan_id: plan.id, revision: 1, digest: EMPTY_DIGEST, decision: "grant" },
        headers: { "if-match": `"${version - 1}"` },
      }),
      409,
      "If-Match",
    );
    assert.equal(stale.current_version, version);
    const granted = await call("POST", "/v1/approvals", {
      token: bob,
      body: { plan_id: plan.id, revision: 1, digest: EMPTY_DIGEST, decision: "grant", comment: "lgtm" },
      headers: { "if-match": `"${version}"`, prefer: "wait=5" },
    });
    assert.equal(granted.status, 202, await granted.clone().text());
    const events = await gw.store.readAggregate("plan", plan.id);
    const last = events[events.length - 1];
    assert.equal(last?.type, "approval.granted");
    assert.equal(last?.actor.id, "bob");
    await problem(
      await call("POST", "/v1/approvals", {
        token: bob,
        body: { plan_id: plan.id, revision: 1, digest: EMPTY_DIGEST, decision: "grant" },
      }),
      409,
      "revision",
    );
    const run = await call("POST", `/v1/plans/${plan.id}:execute`, { token: alice, body: { revision: 1 } });
    assert.equal(run.status, 202, await run.clone().text());
  });

  it("self-approval is allowed when the policy decision says so; a deny blocks execution", async () => {
    const plan = await createPlan({ intent: "scale worker" });
    await proposeAndDecide(gw.store, plan.id, "require_approval", { selfApproval: true });
    const self = await call("POST", "/v1/approvals", {
      token: alice,
      body: { plan_id: plan.id, revision: 1, digest: EMPTY_DIGEST, decision: "grant" },
    });
    assert.equal(self.status, 202);
    const other = await createPlan({ intent: "scale api" });
    await proposeAndDecide(gw.store, other.id, "require_approval");
    const deny = await call("POST", "/v1/approvals", {
      token: bob,
      body: { plan_id: other.id, revision: 1, digest: EMPTY_DIGEST, decision: "deny", comment: "not now" },
    });
    assert.equal(deny.status, 202);
    await problem(await call("POST", `/v1/plans/${other.id}:execute`, { token: alice, body: { revision: 1 } }), 403);
  });

  it("GET /v1/audit/events filters and pages the audit trail", async () => {
    const plan = await createPlan({ intent: "audit me" });
    await waitFor("audit records", async () => {
      const res = await call("GET", `/v1/audit/events?aggregate_id=${plan.id}`, { token: viewer });
      const body = (await res.json()) as { items: unknown[] };
      return body.items.length >= 1 ? body : undefined;
    });
    const page = (await (await call("GET", "/v1/audit/events?limit=2", { token: viewer })).json()) as {
      items: { seq: number }[];
      next_cursor: string | null;
    };
    assert.equal(page.items.length, 2);
    assert.ok(page.next_cursor);
    const next = (await (
      await call("GET", `/v1/audit/events?limit=2&cursor=${page.next_cursor}`, { token: viewer })
    ).json()) as {
      items: { seq: number }[];
    };
    assert.ok((next.items[0]?.seq ?? 0) > (page.items[1]?.seq ?? 0));
    await problem(await call("GET", "/v1/audit/events?since=yesterday", { token: viewer }), 400, "query.since");
  });

  it("GET /v1/context/services lists the service graph", async () => {
    const meta = { actor: { kind: "service" as const, id: "context", roles: [] }, correlation_id: "ctx" };
    const r = await gw.store.append([
      newEvent(
        "context.node_upserted",
        "graph",
        { node_id: "svc:checkout", kind: "service", name: "checkout", environment: "prod" },
        meta,
      ),
      newEvent(
        "context.node_upserted",
        "graph",
        { node_id: "svc:cart", kind: "service", name: "cart", environment: "prod" },
        meta,
      ),
      newEvent(
        "context.edge_upserted",
        "graph",
        { from_node: "svc:checkout", to_node: "svc:cart", kind: "depends_on" },
        meta,
      ),
    ]);
    await gw.projector?.catchUp(5_000);
    assert.ok(r.version > 0);
    const body = (await (
      await call("GET", "/v1/context/services?environment=prod&limit=1", { token: viewer })
    ).json()) as {
      items: { name: string; edges: unknown[] }[];
      next_cursor: string | null;
    };
    assert.equal(body.items[0]?.name, "cart");
    assert.ok(body.next_cursor);
    const rest = (await (
      await call("GET", `/v1/context/services?environment=prod&cursor=${body.next_cursor}`, { token: viewer })
    ).json()) as { items: { name: string; edges: { kind: string; to_node: string }[] }[] };
    assert.equal(rest.items[0]?.name, "checkout");
    assert.deepEqual(rest.items[0]?.edges, [{ kind: "depends_on", to_node: "svc:cart" }]);
  });

  it("serves /healthz, /readyz, /metrics and the OpenAPI document", async () => {
    assert.equal((await call("GET", "/healthz")).status, 200);
    const ready = await call("GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, { nats: "ok", postgres: "ok" });
    const metrics = await (await call("GET", "/metrics")).text();
    assert.match(metrics, /wheelhouse_http_requests_total\{route="\/v1\/plans",method="POST",status="202"\}/);
    const doc = (await (await call("GET", "/v1/openapi.json")).json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { additionalProperties?: boolean } }> } }>
      >;
    };
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/v1/plans/{id}:execute"]?.post);
    assert.equal(
      doc.paths["/v1/plans"]?.post?.requestBody?.content["application/json"]?.schema.additionalProperties,
      false,
    );
    await problem(await call("GET", "/v1/nothing-here"), 404);
  });
});

describe("gateway rate limits", () => {
  it("answers 429 with Retry-After once an actor exceeds its commands per minute", async () => {
    const gw = await startTestGateway({ gateway: { rate_limit_per_minute: 3 }, projector: false });
    try {
      const token = await gw.token("rita", ["operator"]);
      const post = () =>
        fetch(`${gw.url}/v1/plans`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ intent: "x" }),
        });
      for (let i = 0; i < 3; i++) assert.equal((await post()).status, 202);
      const before = await gw.eventCount();
      const limited = await post();
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);
      assert.equal(await gw.eventCount(), before);
      // Another actor has its own budget.
      const other = await fetch(`${gw.url}/v1/plans`, {
        method: "POST",
        headers: { authorization: `Bearer ${await gw.token("sam", ["operator"])}`, "content-type": "application/json" },
        body: JSON.stringify({ intent: "y" }),
      });
      assert.equal(other.status, 202);
    } finally {
      await gw.stop();
    }
  });
});

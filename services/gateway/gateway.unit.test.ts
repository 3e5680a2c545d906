import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { RateLimitedError, UnauthenticatedError, ValidationError } from "../../lib/errors/index.ts";
import { CreatePlanRequestSchema } from "../../schemas/api/index.ts";
import { type ApiRequest, assertRouteContracts, type Handler, parseInput, type Route, validateRequest } from "./api.ts";
import { requestedWaitMs } from "./commands.ts";
import { createFailureLimiter, createRateLimiter } from "./rate-limit.ts";
import { buildRoutes, type RouteHandlers } from "./routes.ts";
import { normalizeAlertmanager, verifyAlertmanager } from "./webhooks/alertmanager.ts";
import { safeEqual } from "./webhooks/common.ts";
import { verifyGitHub } from "./webhooks/github.ts";

const secrets = { alertmanagerToken: "tok", argocdSecret: null, githubSecret: "gh", gitlabToken: null };
const req = (headers: Record<string, string>, rawBody?: Buffer): ApiRequest => ({
  params: {},
  query: {},
  body: null,
  headers,
  actor: null,
  rawBody,
  requestId: "r1",
});

describe("gateway pure parts", () => {
  it("parseInput names each bad field with a fix", () => {
    assert.throws(
      () => parseInput(CreatePlanRequestSchema, { intent: 3, extra: true }, "body"),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError);
        const fields = e.issues.map((i) => i.field).sort();
        assert.deepEqual(fields, ["body.extra", "body.intent"]);
        assert.ok(e.issues.every((i) => i.fix));
        return true;
      },
    );
  });

  it("Prefer: wait and ?wait= are read and capped", () => {
    assert.equal(requestedWaitMs({ ...req({ prefer: "return=minimal, wait=5" }) }, 10_000), 5000);
    assert.equal(requestedWaitMs({ ...req({}), query: { wait: "30" } }, 10_000), 10_000);
    assert.equal(requestedWaitMs(req({}), 10_000), 0);
    assert.throws(() => requestedWaitMs({ ...req({}), query: { wait: "soon" } }, 10_000), ValidationError);
  });

  it("the rate limiter refills continuously and names when to retry", () => {
    let now = 0;
    const limiter = createRateLimiter(2, () => now);
    limiter.take("a");
    limiter.take("a");
    assert.throws(
      () => limiter.take("a"),
      (e: unknown) => e instanceof RateLimitedError && e.retryAfterSeconds === 30,
    );
    limiter.take("b");
    now = 30_000;
    limiter.take("a");
  });

  it("failed authentications: an address that spent its budget is refused until a token is back", () => {
    let now = 0;
    const failures = createFailureLimiter(2, () => now);
    failures.check("10.0.0.1");
    failures.record("10.0.0.1");
    failures.record("10.0.0.1");
    assert.throws(
      () => failures.check("10.0.0.1"),
      (e: unknown) => e instanceof RateLimitedError && e.retryAfterSeconds === 30,
    );
    failures.check("10.0.0.2");
    now = 30_000;
    failures.check("10.0.0.1");
  });

  const handler: Handler = async () => ({ status: 200 });
  const table = buildRoutes(new Proxy({}, { get: () => handler }) as RouteHandlers);
  const route = (method: string, path: string) => table.find((r) => r.method === method && r.path === path) as Route;

  it("validateRequest checks path, query, headers and body against the route's schemas", () => {
    const createPlan = route("POST", "/v1/plans");
    const valid = {
      params: {},
      query: {},
      headers: { prefer: "wait=5" } as Record<string, string>,
      body: { intent: "scale checkout" } as unknown,
    };
    validateRequest(createPlan, valid);
    const field = (request: Record<string, unknown>, r = createPlan) => {
      try {
        validateRequest(r, { ...valid, ...request } as never);
      } catch (e) {
        assert.ok(e instanceof ValidationError);
        return e.field;
      }
      return "accepted";
    };
    assert.equal(field({ query: { wait: "abc" } }), "query.wait");
    assert.equal(field({ query: { bogus: "1" } }), "query.bogus");
    assert.equal(field({ headers: { prefer: "wait=abc" } }), "Prefer");
    assert.equal(field({ headers: { prefer: "respond-async, wait=5" } }), "accepted");
    assert.equal(field({ headers: { "idempotency-key": "has space" } }), "Idempotency-Key");
    assert.equal(field({ headers: { "if-match": 'W/"12"' } }), "accepted");
    assert.equal(field({ body: { intent: "" } }), "body.intent");
    // A route without a query schema takes no query at all.
    assert.equal(
      field({ params: { id: "p-1" }, query: { x: "1" }, body: undefined }, route("GET", "/v1/plans/{id}")),
      "query.x",
    );
    assert.equal(field({ params: { id: "no spaces" }, body: undefined }, route("GET", "/v1/plans/{id}")), "params.id");
  });

  it("a route table that would let a request through unchecked is refused", () => {
    assertRouteContracts(table);
    const base = { operationId: "x", summary: "x", tags: [], responses: {}, handler } as const;
    assert.throws(
      () => assertRouteContracts([{ ...base, method: "GET", path: "/v1/things/{id}", access: "viewer" }]),
      /params/,
    );
    assert.throws(
      () => assertRouteContracts([{ ...base, method: "POST", path: "/v1/things", access: "operator" }]),
      /body/,
    );
    assert.throws(
      () => assertRouteContracts([{ ...base, method: "GET", path: "/v1/stream", access: "public", stream: "sse" }]),
      /stream/,
    );
    assert.throws(
      () =>
        assertRouteContracts([
          {
            ...base,
            method: "POST",
            path: "/v1/things",
            access: "operator",
            body: CreatePlanRequestSchema,
            bodyCheckedByHandler: "no",
          },
        ]),
      /webhooks/,
    );
  });

  it("GitHub signatures are checked over the raw bytes", () => {
    const raw = Buffer.from('{"a": 1}');
    const good = `sha256=${createHmac("sha256", "gh").update(raw).digest("hex")}`;
    verifyGitHub(req({ "x-hub-signature-256": good }, raw), secrets);
    assert.throws(
      () => verifyGitHub(req({ "x-hub-signature-256": good }, Buffer.from('{"a":1}')), secrets),
      UnauthenticatedError,
    );
    assert.throws(() => verifyGitHub(req({}, raw), secrets), UnauthenticatedError);
  });

  it("an unconfigured webhook is closed, not open", () => {
    assert.throws(
      () => verifyAlertmanager(req({ authorization: "Bearer anything" }), { ...secrets, alertmanagerToken: null }),
      (e: unknown) => e instanceof UnauthenticatedError && e.field === "gateway.webhooks.alertmanager_token",
    );
    assert.ok(safeEqual("x", "x"));
    assert.ok(!safeEqual("x", "xx"));
  });

  it("normalizes an Alertmanager v4 group into one signal per alert", () => {
    const body = JSON.parse(
      readFileSync(new URL("../../test/fixtures/webhooks/alertmanager/firing.json", import.meta.url), "utf8"),
    );
    const signals = normalizeAlertmanager(body, "sha");
    assert.equal(signals.length, 2);
    assert.notEqual(signals[0]?.dedupe_key, signals[1]?.dedupe_key);
    assert.equal(signals[1]?.labels?.pod, "checkout-7d9c-2");
    assert.equal(signals[0]?.service, "checkout");
  });
});

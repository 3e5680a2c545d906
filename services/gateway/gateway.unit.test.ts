import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { RateLimitedError, UnauthenticatedError, ValidationError } from "../../lib/errors/index.ts";
import { CreatePlanRequestSchema } from "../../schemas/api/index.ts";
import { type ApiRequest, parseInput } from "./api.ts";
import { requestedWaitMs } from "./commands.ts";
import { createRateLimiter } from "./rate-limit.ts";
import { normalizeAlertmanager, safeEqual, verifyAlertmanager, verifyGitHub } from "./webhooks.ts";

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

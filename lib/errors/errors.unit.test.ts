import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigError,
  ConflictError,
  ERROR_CODES,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionFailedError,
  RateLimitedError,
  RelayedError,
  toProblem,
  toWheelhouseError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
  WheelhouseError,
} from "./index.ts";

describe("errors", () => {
  const table: { error: WheelhouseError; status: number; code: string }[] = [
    { error: new ValidationError("bad"), status: 400, code: "validation_failed" },
    { error: new NotFoundError("none"), status: 404, code: "not_found" },
    { error: new ConflictError("stale"), status: 409, code: "conflict" },
    { error: new RateLimitedError("slow down", 3), status: 429, code: "rate_limited" },
    { error: new UnauthenticatedError("who"), status: 401, code: "unauthenticated" },
    { error: new ForbiddenError("no"), status: 403, code: "forbidden" },
    { error: new MethodNotAllowedError("GET only"), status: 405, code: "method_not_allowed" },
    { error: new PreconditionFailedError("If-Match"), status: 412, code: "precondition_failed" },
    { error: new PayloadTooLargeError("big"), status: 413, code: "payload_too_large" },
    { error: new UnsupportedMediaTypeError("xml"), status: 415, code: "unsupported_media_type" },
    { error: new UnavailableError("down"), status: 503, code: "unavailable" },
    { error: new ConfigError("bad config", []), status: 500, code: "invalid_config" },
    {
      error: new WheelhouseError("idempotency_key_reused", "other request"),
      status: 422,
      code: "idempotency_key_reused",
    },
  ];
  for (const { error, status, code } of table) {
    it(`${error.name} maps to ${status} ${code}`, () => {
      assert.equal(error.status, status);
      assert.equal(error.code, code);
      assert.ok(error instanceof WheelhouseError);
    });
  }

  it("takes every status from the one table of codes", () => {
    for (const { error } of table) {
      assert.equal(error.status, ERROR_CODES[error.code as keyof typeof ERROR_CODES].status, error.code);
      assert.equal(toProblem(error).title, ERROR_CODES[error.code as keyof typeof ERROR_CODES].title);
    }
  });

  it("a relayed problem keeps its sender's code and status", () => {
    const relayed = new RelayedError("tool_call_refused", 403, "capability expired", { fix: "ask again" });
    assert.ok(relayed instanceof WheelhouseError);
    assert.equal(relayed.code, "tool_call_refused");
    assert.equal(relayed.status, 403);
    assert.deepEqual(
      { status: toProblem(relayed).status, title: toProblem(relayed).title, code: toProblem(relayed).code },
      { status: 403, title: "Forbidden", code: "tool_call_refused" },
    );
  });

  it("renders RFC 9457 problem details with the field and the fix", () => {
    const problem = toProblem(
      new ValidationError("intent is empty", { field: "/intent", fix: "describe the change in words" }),
      "/v1/plans",
    );
    assert.deepEqual(problem, {
      type: "https://wheelhouse.dev/problems/validation_failed",
      title: "Bad Request",
      status: 400,
      detail: "intent is empty",
      code: "validation_failed",
      instance: "/v1/plans",
      field: "/intent",
      fix: "describe the change in words",
      errors: [{ field: "/intent", message: "intent is empty", fix: "describe the change in words" }],
    });
  });

  it("carries extension members such as the current version of a conflict", () => {
    const problem = toProblem(new ConflictError("plan moved on", { extra: { current_version: 7 } }));
    assert.equal(problem.current_version, 7);
    assert.equal(toProblem(new RateLimitedError("slow", 2)).retry_after, 2);
  });

  it("wraps unknown errors without leaking their message, keeping the cause", () => {
    const original = new TypeError("cannot read x of undefined at /srv/secret/path");
    const wrapped = toWheelhouseError(original);
    assert.equal(wrapped.status, 500);
    assert.equal(wrapped.cause, original);
    const problem = toProblem(original);
    assert.equal(problem.status, 500);
    assert.doesNotMatch(problem.detail, /secret/);
  });
});

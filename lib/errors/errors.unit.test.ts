import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConflictError,
  NotFoundError,
  RateLimitedError,
  toProblem,
  toWheelhouseError,
  ValidationError,
  WheelhouseError,
} from "./index.ts";

describe("errors", () => {
  const table: { error: WheelhouseError; status: number; code: string }[] = [
    { error: new ValidationError("bad"), status: 400, code: "validation_failed" },
    { error: new NotFoundError("none"), status: 404, code: "not_found" },
    { error: new ConflictError("stale"), status: 409, code: "conflict" },
    { error: new RateLimitedError("slow down", 3), status: 429, code: "rate_limited" },
  ];
  for (const { error, status, code } of table) {
    it(`${error.name} maps to ${status} ${code}`, () => {
      assert.equal(error.status, status);
      assert.equal(error.code, code);
      assert.ok(error instanceof WheelhouseError);
    });
  }

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

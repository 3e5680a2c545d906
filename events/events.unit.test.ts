import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../lib/errors/index.ts";
import { decodeEvent, newEvent, UnknownEventTypeError } from "./index.ts";

const actor = { kind: "user" as const, id: "alice@example.com", roles: ["operator" as const] };

describe("events", () => {
  it("builds a current-version event with a validated payload", () => {
    const event = newEvent(
      "plan.requested",
      "p1",
      { plan_id: "p1", intent: "scale checkout to 6 in staging", source: "api" },
      { actor, correlation_id: "c1" },
    );
    assert.equal(event.schema_version, 2);
    assert.equal(event.aggregate_type, "plan");
    assert.equal(event.causation_id, null);
    assert.match(event.id, /^[0-9a-f-]{36}$/);
  });

  it("refuses a payload of the wrong shape, naming the field", () => {
    assert.throws(
      () =>
        newEvent("plan.requested", "p1", { plan_id: "p1", intent: "", source: "api" }, { actor, correlation_id: "c" }),
      (e: unknown) => e instanceof ValidationError && e.field === "payload.intent",
    );
  });

  it("upcasts plan.requested v1 (text, no source) to v2 on read", () => {
    const stored = {
      id: "e1",
      type: "plan.requested",
      schema_version: 1,
      aggregate_type: "plan",
      aggregate_id: "p1",
      occurred_at: "2026-01-01T00:00:00.000Z",
      actor,
      correlation_id: "c1",
      causation_id: null,
      payload: { plan_id: "p1", text: "restart checkout", environment: "staging" },
    };
    const event = decodeEvent(stored);
    assert.equal(event.schema_version, 2);
    assert.deepEqual(event.payload, {
      plan_id: "p1",
      intent: "restart checkout",
      source: "api",
      environment: "staging",
    });
  });

  it("names unknown types and newer schema versions instead of guessing", () => {
    const base = {
      id: "e1",
      aggregate_type: "plan",
      aggregate_id: "p1",
      occurred_at: "2026-01-01T00:00:00.000Z",
      actor,
      correlation_id: "c1",
      causation_id: null,
      payload: {},
    };
    assert.throws(() => decodeEvent({ ...base, type: "plan.teleported", schema_version: 1 }), UnknownEventTypeError);
    assert.throws(
      () => decodeEvent({ ...base, type: "plan.failed", schema_version: 9 }),
      (e: unknown) => e instanceof ValidationError && e.field === "schema_version",
    );
  });

  it("records evidence on either a plan or an execution, but not elsewhere", () => {
    const payload = {
      evidence_id: "ev1",
      owner_type: "execution" as const,
      owner_id: "x1",
      kind: "tool_output" as const,
      uri: "file:///tmp/x",
      sha256: "a".repeat(64),
      size_bytes: 3,
      content_type: "application/json",
      redacted: true,
    };
    const onExecution = newEvent("evidence.stored", "x1", payload, {
      actor,
      correlation_id: "c",
      aggregate_type: "execution",
    });
    assert.equal(onExecution.aggregate_type, "execution");
    assert.throws(
      () => newEvent("evidence.stored", "x1", payload, { actor, correlation_id: "c", aggregate_type: "signal" }),
      ValidationError,
    );
  });
});

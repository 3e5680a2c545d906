import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Actor, decodeEvent, newEvent } from "./index.ts";

const bob: Actor = { kind: "user", id: "bob", roles: ["approver"], groups: ["sre"] };
const stored = (type: string, payload: unknown) => ({
  id: "e1",
  type,
  schema_version: 1,
  aggregate_type: "plan",
  aggregate_id: "p1",
  occurred_at: "2026-01-01T00:00:00.000Z",
  actor: bob,
  correlation_id: "c1",
  causation_id: null,
  payload,
});
const DIGEST = "a".repeat(64);

describe("approval events", () => {
  it("upcasts approval.granted and approval.denied v1 (via, no digest) to v2: channel, digest null", () => {
    const granted = decodeEvent(
      stored("approval.granted", { plan_id: "p1", revision: 1, approval_id: "a1", approver: "bob", via: "slack" }),
    );
    assert.equal(granted.schema_version, 2);
    assert.deepEqual(granted.payload, {
      plan_id: "p1",
      revision: 1,
      approval_id: "a1",
      approver: "bob",
      channel: "slack",
      digest: null,
    });
    const denied = decodeEvent(
      stored("approval.denied", {
        plan_id: "p1",
        revision: 1,
        approval_id: "a1",
        approver: "bob",
        via: "api",
        reason: "no",
        comment: "not now",
      }),
    );
    assert.deepEqual(denied.payload, {
      plan_id: "p1",
      revision: 1,
      approval_id: "a1",
      approver: "bob",
      channel: "api",
      digest: null,
      reason: "no",
      comment: "not now",
    });
  });

  it("a v2 grant names its channel and a digest of 64 hex digits; the actor keeps its groups", () => {
    const meta = { actor: bob, correlation_id: "c1" };
    const base = { plan_id: "p1", revision: 1, approval_id: "a1", approver: "bob", channel: "console" as const };
    const event = newEvent(
      "approval.granted",
      "p1",
      { ...base, digest: DIGEST, break_glass: true, reason: "down" },
      meta,
    );
    assert.equal(event.schema_version, 2);
    assert.deepEqual(event.actor.groups, ["sre"]);
    assert.throws(() => newEvent("approval.granted", "p1", { ...base, digest: "abc" }, meta), /payload\.digest/);
    assert.throws(
      () => newEvent("approval.granted", "p1", { ...base, channel: "email" as "api", digest: DIGEST }, meta),
      /payload\.channel/,
    );
  });
});

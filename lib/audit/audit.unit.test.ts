import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { newEvent } from "../../events/index.ts";
import { canonicalize } from "./canonical.ts";
import { chainHash, chainRecords, deriveOutcome, GENESIS_HASH } from "./record.ts";

const actor = { kind: "user" as const, id: "alice", roles: ["approver" as const] };

function recorded<E extends ReturnType<typeof newEvent>>(event: E, seq: number): AnyRecordedEvent {
  return {
    ...event,
    seq,
    stream: "T_EVENTS",
    subject: `t.evt.${event.aggregate_type}.${event.aggregate_id}`,
  } as AnyRecordedEvent;
}

describe("canonicalize (RFC 8785)", () => {
  it("matches the RFC's own example (section 3.2.2)", () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(
      canonicalize(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it("sorts keys by UTF-16 code units (section 3.2.3)", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    // Read the order from the text: Object.keys would put the integer-like "1" first whatever the text says.
    const order = [...canonicalize(input).matchAll(/"([^"]+)":"([^"]+)"/g)].map((m) => m[2]);
    assert.deepEqual(order, [
      "Carriage Return",
      "One",
      "Control",
      "Latin Small Letter O With Diaeresis",
      "Euro Sign",
      "Emoji: Grinning Face",
      "Hebrew Letter Dalet With Dagesh",
    ]);
  });

  it("has no whitespace, drops undefined members, and refuses what JSON cannot hold", () => {
    assert.equal(canonicalize({ b: [1, { d: undefined, c: "x" }], a: -0 }), '{"a":0,"b":[1,{"c":"x"}]}');
    assert.throws(() => canonicalize({ a: Number.NaN }), /\$\.a is NaN/);
    assert.throws(() => canonicalize({ a: 1n }), /bigint/);
  });
});

describe("audit records", () => {
  const requested = recorded(
    newEvent(
      "plan.requested",
      "p1",
      { plan_id: "p1", intent: "scale checkout to 3", source: "api", service: "checkout" },
      { actor, correlation_id: "c1" },
    ),
    1,
  );
  const decided = recorded(
    newEvent(
      "policy.decided",
      "p1",
      {
        plan_id: "p1",
        revision: 1,
        decision: "require_approval",
        tier: "T2",
        reasons: ["production write"],
        approvers_required: 1,
        constraints: {},
        ttl_seconds: 3600,
        expires_at: "2026-01-01T01:00:00.000Z",
        policy_revision: "abc",
        steps: [],
      },
      { actor: { kind: "service", id: "policy", roles: [] }, correlation_id: "c1", causation_id: requested.id },
    ),
    2,
  );

  it("derives the outcome from the event", () => {
    assert.equal(deriveOutcome(requested), null);
    assert.equal(deriveOutcome(decided), "require_approval");
  });

  it("chains each record on the previous hash, starting from genesis", () => {
    const [a, b] = chainRecords([requested, decided], null);
    assert.ok(a && b);
    assert.equal(a.seq, 1);
    assert.equal(a.prev_hash, GENESIS_HASH);
    assert.equal(b.prev_hash, a.hash);
    assert.equal(a.service, "checkout");
    assert.equal(b.outcome, "require_approval");
    const { seq: _s, prev_hash: _p, hash: _h, canonical, ...body } = b;
    assert.equal(canonical, canonicalize(body), "the stored text is the canonical body");
    assert.equal(chainHash(a.hash, body), b.hash);
    assert.notEqual(chainHash(GENESIS_HASH, body), b.hash, "the same record on another predecessor hashes differently");
  });

  it("is deterministic: the same events from the same head give the same chain", () => {
    const head = { seq: 41, hash: "a".repeat(64) };
    assert.deepEqual(chainRecords([requested, decided], head), chainRecords([requested, decided], head));
    assert.equal(chainRecords([requested], head)[0]?.seq, 42);
  });
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { canonicalize } from "../../lib/audit/canonical.ts";
import { auditBody, canonicalAuditBody, chainRecords, DEAD_LETTERED, deadLetterBody } from "../../lib/audit/record.ts";
import { recordedChange } from "../../test/support/events.ts";
import type { UnprojectedEntry } from "../types.ts";
import { inStreamOrder } from "./index.ts";

const message = (seq: number, data: string, reason = "decode_error"): UnprojectedEntry => ({
  kind: "unprojected",
  stream: "T_EVENTS",
  seq,
  subject: "t.evt.plan.p-1",
  data: new TextEncoder().encode(data),
  timeMs: Date.UTC(2026, 0, 1, 12),
  reason,
  error: "ValidationError: invalid event",
});

describe("audit fold", () => {
  it("given events, when their records are built, then the fast canonical text equals RFC 8785 canonicalize", () => {
    for (const e of recordedChange(1)) {
      const body = auditBody(e);
      assert.equal(canonicalAuditBody(body), canonicalize(body), e.type);
    }
    const body = deadLetterBody(message(3, "{}"));
    assert.equal(canonicalAuditBody(body), canonicalize(body));
  });

  it("given events and unprojected messages, when merged, then the chain follows stream order", () => {
    const events = recordedChange(2).slice(0, 3); // seqs 1..3
    const merged = inStreamOrder(events, [message(2, "x"), message(9, "y")]);
    assert.deepEqual(
      merged.map((m) => m.seq),
      [1, 2, 2, 3, 9],
    );
    assert.equal(inStreamOrder(events, []), events);
  });

  it("given a message that is not JSON, when recorded, then the record says dead_lettered and keeps its text", () => {
    const body = deadLetterBody(message(7, "this is not an event"));
    assert.equal(body.outcome, DEAD_LETTERED);
    assert.equal(body.event_id, "T_EVENTS:7");
    assert.equal(body.event_seq, 7);
    assert.equal(body.aggregate_type, "plan");
    assert.equal(body.aggregate_id, "p-1");
    assert.equal(body.type, "unreadable");
    assert.equal(body.occurred_at, "2026-01-01T12:00:00.000Z");
    assert.deepEqual(body.payload, {
      reason: "decode_error",
      error: "ValidationError: invalid event",
      sha256: createHash("sha256").update("this is not an event").digest("hex"),
      size_bytes: 20,
      data: "this is not an event",
    });
  });

  it("given a JSON envelope that fails validation, when recorded, then what could be read is kept", () => {
    const envelope = {
      id: "e-1",
      type: "plan.failed",
      occurred_at: "2026-01-02T00:00:00Z",
      actor: { kind: "user", id: "alice", roles: ["operator"] },
      correlation_id: "corr-1",
      payload: { nonsense: true },
    };
    const body = deadLetterBody(message(8, JSON.stringify(envelope)));
    assert.equal(body.type, "plan.failed");
    assert.equal(body.actor_id, "alice");
    assert.equal(body.correlation_id, "corr-1");
    assert.equal(body.occurred_at, "2026-01-02T00:00:00.000Z");
    assert.deepEqual((body.payload as { message: unknown }).message, envelope);
  });

  it("given the same messages, when chained twice, then the records are identical (a rebuild reproduces them)", () => {
    const a = deadLetterBody(message(5, "garbage"));
    const b = deadLetterBody(message(5, "garbage"));
    assert.deepEqual(a, b);
    const events = recordedChange(3);
    assert.deepEqual(chainRecords(events, null), chainRecords(events, null));
  });
});

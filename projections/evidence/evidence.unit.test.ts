import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recordedChange } from "../../test/support/events.ts";
import { createEvidenceWriter, evidenceRow } from "./index.ts";

describe("evidence fold", () => {
  it("given an evidence.stored event, when folded, then the row names the blob and its owner", () => {
    const stored = recordedChange(1).find((e) => e.type === "evidence.stored");
    assert.ok(stored);
    const row = evidenceRow(stored);
    assert.equal(row?.evidence_id, "u-exec-1-ev1");
    assert.equal(row?.owner_id, "u-exec-1");
    assert.equal(row?.created_at, stored.occurred_at);
    assert.equal(row?.last_seq, stored.seq);
  });

  it("given other events, when folded, then there is no row", () => {
    for (const e of recordedChange(2).filter((x) => x.type !== "evidence.stored")) assert.equal(evidenceRow(e), null);
  });

  it("given the same evidence twice in a batch, when written, then one insert keeps the first record", async () => {
    const stored = recordedChange(3).find((e) => e.type === "evidence.stored");
    assert.ok(stored);
    const statements = await createEvidenceWriter().prepare(
      { query: () => Promise.reject(new Error("the evidence writer reads nothing")) },
      [stored, { ...stored, seq: 99 }],
      [],
    );
    assert.equal(statements.length, 1);
    const rows = JSON.parse(statements[0]?.values[0] as string) as { last_seq: number }[];
    assert.deepEqual(
      rows.map((r) => r.last_seq),
      [stored.seq],
    );
    assert.match(statements[0]?.text ?? "", /ON CONFLICT \("evidence_id"\) DO NOTHING/);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newEvent } from "../../events/index.ts";
import { recorded } from "../../test/support/events.ts";
import { createExecutionsWriter } from "./index.ts";
import { measurementId, measurementRows } from "./measurements.ts";

const meta = { actor: { kind: "service" as const, id: "orchestrator", roles: [] }, correlation_id: "c" };
const measured = (attempt: number, value: number | null, query = "up") =>
  newEvent(
    "execution.measured",
    "x-1",
    {
      execution_id: "x-1",
      step_id: "s1",
      provider: "prometheus",
      query,
      attempt,
      value,
      outcome: value === null ? "inconclusive" : "pass",
      reason: "r",
      measured_at: "2026-03-01T12:00:00.000Z",
    },
    meta,
  );

describe("execution measurements", () => {
  it("given measurements, when folded, then one row each, keyed by step, query and attempt", () => {
    const rows = measurementRows(recorded([measured(1, 1), measured(2, null), measured(1, 0.5, "other")]));
    assert.equal(rows.length, 3);
    assert.equal(new Set(rows.map((r) => r.measurement_id)).size, 3);
    assert.deepEqual(
      rows.map((r) => [r.attempt, r.value, r.last_seq]),
      [
        [1, 1, 1],
        [2, null, 2],
        [1, 0.5, 3],
      ],
    );
  });

  it("given the same measurement twice (a retried activity), when folded, then the first record is kept", () => {
    const rows = measurementRows(recorded([measured(1, 1), measured(1, 2)]));
    assert.deepEqual(
      rows.map((r) => [r.value, r.last_seq]),
      [[1, 1]],
    );
  });

  it("given a query of any length, when keyed, then the key stays short", () => {
    const id = measurementId({
      execution_id: "x",
      step_id: "s",
      provider: "tempo",
      query: "q".repeat(5000),
      attempt: 7,
    });
    assert.ok(id.length < 64, id);
  });

  it("given a batch with measurements, when written, then they are inserted and a repeat does nothing", async () => {
    const execution = newEvent("execution.requested", "x-1", { execution_id: "x-1", plan_id: "p", revision: 1 }, meta);
    const statements = await createExecutionsWriter().prepare(
      { query: async () => ({ rows: [{ empty: true }] }) } as never,
      recorded([execution, measured(1, 1)]),
      [],
    );
    const insert = statements.find((s) => s.text.includes("execution_measurements"));
    assert.ok(insert, "an insert into execution_measurements");
    assert.match(insert.text, /ON CONFLICT \("measurement_id"\) DO NOTHING/);
  });
});

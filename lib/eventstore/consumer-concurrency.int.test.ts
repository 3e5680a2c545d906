/**
 * A durable consumer with `concurrency`: events of different aggregates are handled at once, the
 * events of one aggregate one after the other in stream order, and every event exactly once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newEvent } from "../../events/index.ts";
import { createTestEventStore, type TestEventStore, waitFor } from "../../test/support/index.ts";

describe("durable consumer concurrency", () => {
  let t: TestEventStore;
  before(async () => {
    t = await createTestEventStore("cc");
  });
  after(async () => {
    await t.teardown();
  });

  it("overlaps aggregates, keeps each aggregate's order, handles each event once", async () => {
    const actor = { kind: "user" as const, id: "u", roles: [] };
    const plans = Array.from({ length: 8 }, (_, i) => `p${i}`);
    for (const planId of plans) {
      for (let n = 0; n < 3; n++) {
        await t.store.append([
          newEvent(
            "plan.requested",
            `${planId}`,
            { plan_id: planId, intent: `step ${n}`, source: "api" },
            {
              actor,
              correlation_id: `${planId}-${n}`,
            },
          ),
        ]);
      }
    }
    const seen = new Map<string, string[]>();
    let running = 0;
    let most = 0;
    const consumption = await t.store.consume({
      durable: "cc",
      concurrency: 4,
      handler: async (event) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const list = seen.get(event.aggregate_id) ?? [];
        list.push((event.payload as { intent: string }).intent);
        seen.set(event.aggregate_id, list);
        running--;
      },
    });
    try {
      await waitFor("every event handled", () => [...seen.values()].flat().length === 24);
      assert.ok(most > 1, `handled ${most} at once`);
      assert.ok(most <= 4, `never more than 4 at once (${most})`);
      for (const planId of plans) assert.deepEqual(seen.get(planId), ["step 0", "step 1", "step 2"], planId);
    } finally {
      await consumption.stop();
    }
  });
});

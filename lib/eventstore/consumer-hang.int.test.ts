import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { nuid } from "@nats-io/transport-node";
import { type Actor, newEvent } from "../../events/index.ts";
import { createTestEventStore, type TestEventStore, waitFor, withDeadline } from "../../test/support/index.ts";
import type { EventStore } from "./index.ts";

const actor: Actor = { kind: "user", id: "alice", roles: ["operator"] };

let te: TestEventStore;
let store: EventStore;

before(async () => {
  te = await createTestEventStore("t_esh");
  store = te.store;
});

after(async () => {
  await te.teardown();
});

test("consume: a handler that never settles is given up on, dead-lettered, and does not block the stream", async () => {
  const stuckPlan = `p-${randomUUID()}`;
  const goodPlan = `p-${randomUUID()}`;
  const seen: string[] = [];
  const letters: string[] = [];
  let stuckCalls = 0;
  const start = (await store.lastSeq()) + 1;
  const consumer = await store.consume({
    durable: `c_${nuid.next()}`,
    filterTypes: ["plan.requested"],
    deliverFrom: { seq: start },
    maxDeliver: 2,
    backoffMs: [400, 400],
    handlerTimeoutMs: 300,
    async handler(event) {
      if (event.aggregate_id === stuckPlan) {
        stuckCalls++;
        // A call that hangs for ever (a lost connection without a timeout, say).
        await new Promise(() => {});
      }
      seen.push(event.aggregate_id);
    },
    async onDeadLetter(letter) {
      letters.push(letter.reason);
    },
  });
  let stopped = false;
  try {
    const meta = { actor, correlation_id: "corr-hang" };
    await store.append([
      newEvent("plan.requested", stuckPlan, { plan_id: stuckPlan, intent: "x", source: "api" }, meta),
    ]);
    await store.append([newEvent("plan.requested", goodPlan, { plan_id: goodPlan, intent: "y", source: "api" }, meta)]);
    await waitFor("the event behind the stuck one to be handled", () => seen.includes(goodPlan), { timeoutMs: 8000 });
    await waitFor("the stuck event to be dead-lettered", () => letters.length >= 1, { timeoutMs: 8000 });
    assert.deepEqual(letters, ["handler_failed"]);
    assert.equal(stuckCalls, 2);
    // Both calls at the stuck event still hang: stop() must return anyway, or the test fails.
    await withDeadline("consumer.stop() while handler calls still hang", consumer.stop(), 3000);
    stopped = true;
  } finally {
    // After a failure above: stop without hiding that failure (and without waiting for ever).
    if (!stopped) await withDeadline("consumer.stop() after a failure", consumer.stop(), 3000).catch(() => {});
  }
});

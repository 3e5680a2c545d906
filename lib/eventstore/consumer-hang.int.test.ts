import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { connect, type NatsConnection, nuid } from "@nats-io/transport-node";
import { type Actor, newEvent } from "../../events/index.ts";
import { natsOptions } from "../../test/support/index.ts";
import { createEventStore, type EventStore } from "./index.ts";

const actor: Actor = { kind: "user", id: "alice", roles: ["operator"] };

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let nc: NatsConnection;
let store: EventStore;
const prefix = `t_esh_${nuid.next().toLowerCase().slice(0, 10)}`;

before(async () => {
  nc = await connect(natsOptions());
  store = createEventStore({ nc, prefix });
  await store.provision();
});

after(async () => {
  const jsm = await store.manager();
  for (const s of Object.values(store.streams)) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
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
  try {
    const meta = { actor, correlation_id: "corr-hang" };
    await store.append([
      newEvent("plan.requested", stuckPlan, { plan_id: stuckPlan, intent: "x", source: "api" }, meta),
    ]);
    await store.append([newEvent("plan.requested", goodPlan, { plan_id: goodPlan, intent: "y", source: "api" }, meta)]);
    await until("the event behind the stuck one to be handled", async () => seen.includes(goodPlan), 8000);
    await until("the stuck event to be dead-lettered", async () => letters.length >= 1, 8000);
    assert.deepEqual(letters, ["handler_failed"]);
    assert.equal(stuckCalls, 2);
  } finally {
    // Bounded, so that a consumer stuck behind the handler fails the test instead of hanging it.
    await Promise.race([consumer.stop(), new Promise((r) => setTimeout(r, 3000))]);
  }
});

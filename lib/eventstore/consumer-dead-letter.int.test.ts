import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { AckPolicy } from "@nats-io/jetstream";
import { nuid } from "@nats-io/transport-node";
import { pino } from "pino";
import { type Actor, newEvent } from "../../events/index.ts";
import { createTestEventStore, type TestEventStore, waitFor, withDeadline } from "../../test/support/index.ts";
import type { DeadLetter, EventStore } from "./index.ts";

const actor: Actor = { kind: "user", id: "alice", roles: ["operator"] };

let te: TestEventStore;
let store: EventStore;
const lines: string[] = [];

before(async () => {
  const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
  te = await createTestEventStore("t_esdl", { logger });
  store = te.store;
});

after(async () => {
  await te.teardown();
});

test("consume: a dead letter whose write fails keeps its event, and is recorded once when the write succeeds", async () => {
  const planId = `p-${randomUUID()}`;
  const durable = `c_${nuid.next()}`;
  const maxDeliver = 2;
  const recorded: DeadLetter[] = [];
  let handlerCalls = 0;
  let recordFailures = 0;
  let dlqBack = false;
  const jsm = await store.manager();
  const start = (await store.lastSeq()) + 1;
  const consumer = await store.consume({
    durable,
    filterTypes: ["plan.requested"],
    deliverFrom: { seq: start },
    maxDeliver,
    backoffMs: [50, 100],
    async handler() {
      handlerCalls++;
      throw new Error("projection bug");
    },
    async onDeadLetter(letter) {
      // Once the DLQ stream is back, the first record after the stream write fails (Postgres restarting,
      // say): the letter is already on the stream, the event comes back and is written again.
      if (dlqBack && recordFailures === 0) {
        recordFailures++;
        throw new Error("dead_letters table not answering");
      }
      recorded.push(letter);
    },
  });
  let stopped = false;
  try {
    // No DLQ stream: nothing answers on `<prefix>.dlq.>`, every dead-letter write is refused.
    await jsm.streams.delete(store.streams.dlq);
    const appended = await store.append([
      newEvent(
        "plan.requested",
        planId,
        { plan_id: planId, intent: "x", source: "api" },
        { actor, correlation_id: "c" },
      ),
    ]);
    const seq = appended.seqs[0] as number;

    // Well past the deliveries the handler gets (and past any server limit near them), still not acknowledged.
    await waitFor(
      "deliveries past the last allowed one, the event still unacknowledged",
      async () => {
        const info = await jsm.consumers.info(store.streams.events, durable);
        return info.delivered.consumer_seq >= maxDeliver + 4 && info.num_ack_pending === 1;
      },
      { timeoutMs: 8000 },
    );
    assert.equal(handlerCalls, maxDeliver);
    const failures = lines
      .map((l) => JSON.parse(l) as { msg: string; seq?: number; reason?: string; err?: string })
      .filter((l) => l.msg.startsWith("could not write it to the DLQ stream"));
    assert.ok(failures.length >= 4, `each failed DLQ write is logged (got ${failures.length})`);
    for (const f of failures) {
      assert.equal(f.seq, seq);
      // Later deliveries write the letter the handler's failure made, not a generic "out of deliveries".
      assert.equal(f.reason, "handler_failed");
      assert.ok(f.err, "the log says why the write failed");
    }
    assert.equal(recorded.length, 0);

    // The stream is back: the next delivery writes the letter; its record fails once, then succeeds.
    dlqBack = true;
    await store.provision();
    await waitFor(
      "the event terminated after its dead letter is recorded",
      async () => {
        const info = await jsm.consumers.info(store.streams.events, durable);
        return info.num_ack_pending === 0 && info.ack_floor.stream_seq >= seq;
      },
      { timeoutMs: 8000 },
    );
    assert.equal(recordFailures, 1);
    assert.equal(recorded.length, 1);
    assert.equal(handlerCalls, maxDeliver);
    // Written twice (the record after the first write failed), stored once.
    const letters = await store.deadLetters(durable);
    assert.equal(letters.length, 1);
    const [letter] = letters;
    assert.equal(letter?.seq, seq);
    assert.equal(letter?.reason, "handler_failed");
    assert.equal(letter?.deliveries, maxDeliver);
    assert.match(letter?.error ?? "", /projection bug/);
    assert.equal(recorded[0]?.reason, "handler_failed");

    await withDeadline("consumer.stop()", consumer.stop(), 3000);
    stopped = true;
  } finally {
    if (!stopped) await withDeadline("consumer.stop() after a failure", consumer.stop(), 3000).catch(() => {});
  }
});

test("consume: a durable made with a server-side max_deliver (before this consumer counted alone) loses the limit", async () => {
  const durable = `c_${nuid.next()}`;
  const jsm = await store.manager();
  await jsm.consumers.add(store.streams.events, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    max_deliver: 3,
  });
  const consumer = await store.consume({ durable, maxDeliver: 2, async handler() {} });
  try {
    const info = await jsm.consumers.info(store.streams.events, durable);
    assert.equal(info.config.max_deliver, -1);
  } finally {
    await withDeadline("consumer.stop()", consumer.stop(), 3000);
  }
});

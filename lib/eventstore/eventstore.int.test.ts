import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { headers, type NatsConnection, nuid } from "@nats-io/transport-node";
import { type Actor, type AnyRecordedEvent, newEvent } from "../../events/index.ts";
import { createTestEventStore, type TestEventStore, waitFor } from "../../test/support/index.ts";
import { ConflictError, UnavailableError } from "../errors/index.ts";
import type { EventStore } from "./index.ts";

const actor: Actor = { kind: "user", id: "alice", roles: ["operator"] };
const meta = { actor, correlation_id: "corr-1" };

function requested(planId: string, intent = "scale checkout to 3") {
  return newEvent("plan.requested", planId, { plan_id: planId, intent, source: "api" }, meta);
}
function failed(planId: string, reason: string) {
  return newEvent("plan.failed", planId, { plan_id: planId, reasons: [reason] }, meta);
}

describe("event store (real NATS)", () => {
  let te: TestEventStore;
  let nc: NatsConnection;
  let store: EventStore;
  let prefix: string;

  before(async () => {
    te = await createTestEventStore("t_es");
    ({ nc, store, prefix } = te);
  });

  after(async () => {
    await te.teardown();
  });

  test("provision is idempotent and sets durability per stream", async () => {
    await store.provision();
    await Promise.all([store.provision(), store.provision()]);
    const jsm = await store.manager();
    const events = (await jsm.streams.info(store.streams.events)).config as unknown as Record<string, unknown>;
    const output = (await jsm.streams.info(store.streams.output)).config as unknown as Record<string, unknown>;
    assert.equal(events.persist_mode ?? "default", "default");
    assert.equal(events.allow_atomic, true);
    assert.deepEqual(events.subjects, [`${prefix}.evt.>`]);
    assert.equal(output.persist_mode, "async");
  });

  test("same idempotency key twice appends one event", async () => {
    const planId = `p-${randomUUID()}`;
    const key = randomUUID();
    const first = await store.append([requested(planId)], { idempotencyKey: key });
    const again = await store.append([requested(planId)], { idempotencyKey: key });
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.seqs, first.seqs);
    assert.equal((await store.readAggregate("plan", planId)).length, 1);

    // With a version guard too: the server checks the guard before the dedupe, the store resolves the retry.
    const planId2 = `p-${randomUUID()}`;
    const key2 = randomUUID();
    const a = await store.append([requested(planId2)], { idempotencyKey: key2, expectedVersion: "none" });
    const b = await store.append([requested(planId2)], { idempotencyKey: key2, expectedVersion: "none" });
    assert.equal(b.duplicate, true);
    assert.deepEqual(b.seqs, a.seqs);
    assert.equal((await store.readAggregate("plan", planId2)).length, 1);
  });

  test("a retried atomic batch appends its events once", async () => {
    const planId = `p-${randomUUID()}`;
    const key = randomUUID();
    const batch = [requested(planId), failed(planId, "a"), failed(planId, "b")];
    const first = await store.append(batch, { idempotencyKey: key, expectedVersion: 0 });
    assert.equal(first.seqs.length, 3);
    assert.deepEqual(first.seqs, [first.seqs[0], (first.seqs[0] as number) + 1, (first.seqs[0] as number) + 2]);
    const again = await store.append(batch, { idempotencyKey: key, expectedVersion: 0 });
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.seqs, first.seqs);
    const again2 = await store.append(batch, { idempotencyKey: key });
    assert.equal(again2.duplicate, true);
    assert.equal((await store.readAggregate("plan", planId)).length, 3);
  });

  test("stale expected version throws ConflictError and appends nothing", async () => {
    const planId = `p-${randomUUID()}`;
    const { version } = await store.append([requested(planId)], { expectedVersion: "none" });
    await store.append([failed(planId, "x")], { expectedVersion: version });
    const current = await store.version("plan", planId);
    const lastBefore = await store.lastSeq();
    await assert.rejects(store.append([failed(planId, "stale")], { expectedVersion: version }), (e: unknown) => {
      assert.ok(e instanceof ConflictError);
      assert.equal(e.status, 409);
      assert.equal(e.extra?.current_version, current);
      return true;
    });
    await assert.rejects(store.append([requested(planId)], { expectedVersion: "none" }), ConflictError);
    assert.equal(await store.lastSeq(), lastBefore);
    assert.equal((await store.readAggregate("plan", planId)).length, 2);
  });

  test("a failing atomic batch appends none of its events", async () => {
    const planId = `p-${randomUUID()}`;
    const { version } = await store.append([requested(planId)]);
    await store.append([failed(planId, "moved on")]);
    const before = await store.lastSeq();
    await assert.rejects(
      store.append([failed(planId, "1"), failed(planId, "2"), failed(planId, "3")], { expectedVersion: version }),
      ConflictError,
    );
    assert.equal(await store.lastSeq(), before);

    // A batch whose commit never arrives (producer died mid-batch) leaves nothing either.
    const subject = store.subjectFor("plan", planId);
    const batchId = nuid.next();
    for (let i = 1; i <= 2; i++) {
      const h = headers();
      h.set("Nats-Batch-Id", batchId);
      h.set("Nats-Batch-Sequence", String(i));
      nc.publish(subject, JSON.stringify(failed(planId, `orphan ${i}`)), { headers: h });
    }
    await nc.flush();
    // A later normal append proves the server processed the orphan messages before it.
    const after = await store.append([failed(planId, "after")]);
    assert.equal(after.seqs[0], before + 1);
    const events = await store.readAggregate("plan", planId);
    assert.deepEqual(
      events.map((e) => (e.type === "plan.failed" ? e.payload.reasons[0] : e.type)),
      ["plan.requested", "moved on", "after"],
    );
  });

  test("readAggregate folds up to a sequence or a time", async () => {
    const planId = `p-${randomUUID()}`;
    const r1 = await store.append([requested(planId)]);
    // A time strictly between the stream timestamps of the first append and the next: wait for the
    // clock (the server's is this machine's) to pass the first one, take it, and let it pass that too.
    const stored = await (await store.manager()).streams.getMessage(store.streams.events, {
      seq: r1.seqs[0] as number,
    });
    const storedAt = stored?.time.getTime() ?? Number.NaN;
    await waitFor("the clock to pass the first event's stream time", () => Date.now() > storedAt, { intervalMs: 1 });
    const midTime = new Date().toISOString();
    await waitFor("the clock to pass the middle time", () => Date.now() > Date.parse(midTime), { intervalMs: 1 });
    await store.append([failed(planId, "one"), failed(planId, "two")]);
    const all = await store.readAggregate("plan", planId);
    assert.equal(all.length, 3);
    assert.equal(all[0]?.seq, r1.seqs[0]);
    assert.equal(all[0]?.subject, store.subjectFor("plan", planId));
    assert.equal((await store.readAggregate("plan", planId, { upTo: { seq: r1.seqs[0] } })).length, 1);
    assert.equal((await store.readAggregate("plan", planId, { upTo: { time: midTime } })).length, 1);
    assert.deepEqual(await store.readAggregate("plan", `missing-${randomUUID()}`), []);
    assert.equal(await store.version("plan", `missing-${randomUUID()}`), 0);
    assert.equal(await store.version("plan", planId), all[2]?.seq);
  });

  test("output chunks go to the output stream", async () => {
    const executionId = `e-${randomUUID()}`;
    const chunk = newEvent(
      "tool_call.output",
      executionId,
      { execution_id: executionId, tool_call_id: "tc1", seq: 0, stream: "stdout", text: "hello" },
      meta,
    );
    const res = await store.append([chunk]);
    const jsm = await store.manager();
    const msg = await jsm.streams.getMessage(store.streams.output, { seq: res.seqs[0] as number });
    assert.equal(msg?.subject, `${prefix}.out.execution.${executionId}`);
  });

  test("consume: poison events are dead-lettered and never block the stream", async () => {
    const planId = `p-${randomUUID()}`;
    const failingPlan = `p-${randomUUID()}`;
    const seen: AnyRecordedEvent[] = [];
    const letters: string[] = [];
    const start = (await store.lastSeq()) + 1;
    const consumer = await store.consume({
      durable: `c_${nuid.next()}`,
      filterTypes: ["plan.requested", "plan.failed"],
      deliverFrom: { seq: start },
      maxDeliver: 3,
      backoffMs: [50, 100],
      async handler(event) {
        if (event.aggregate_id === failingPlan) throw new Error("projection bug");
        seen.push(event);
      },
      async onDeadLetter(letter) {
        letters.push(`${letter.reason}@${letter.seq}`);
      },
    });
    // A message that is not an event at all, then one whose handler always fails, then good ones.
    const poison = await (await store.manager()).jetstream().publish(store.subjectFor("plan", planId), "{not json");
    const bad = await store.append([requested(failingPlan)]);
    const good = await store.append([requested(planId), failed(planId, "later")]);
    await waitFor("good events handled", () => seen.length >= 2);
    await waitFor("two dead letters", () => letters.length >= 2);
    await consumer.stop();
    assert.deepEqual(
      seen.map((e) => e.seq),
      good.seqs,
    );
    assert.deepEqual(letters.sort(), [`decode_error@${poison.seq}`, `handler_failed@${bad.seqs[0]}`].sort());
    const recorded = await store.deadLetters();
    const mine = recorded.filter((l) => l.seq === poison.seq || l.seq === bad.seqs[0]);
    assert.equal(mine.length, 2);
    assert.equal(mine.find((l) => l.reason === "handler_failed")?.deliveries, 3);
  });

  test("consume: a handler failing because NATS is not answering is called again in place, not dead-lettered", async () => {
    const planId = `p-${randomUUID()}`;
    const letters: string[] = [];
    const deliveries: number[] = [];
    let calls = 0;
    const start = (await store.lastSeq()) + 1;
    const consumer = await store.consume({
      durable: `c_${nuid.next()}`,
      filterTypes: ["plan.requested"],
      deliverFrom: { seq: start },
      // One delivery and a long backoff: only the in-place retry can get the event through in time.
      maxDeliver: 1,
      backoffMs: [60_000],
      async handler(event) {
        calls += 1;
        if (calls <= 2) throw new UnavailableError("JetStream did not answer the read (an election)");
        deliveries.push(event.seq);
      },
      async onDeadLetter(letter) {
        letters.push(letter.reason);
      },
    });
    const appended = await store.append([requested(planId)]);
    await waitFor("the event handled after two unavailable answers", () => deliveries.length === 1, {
      timeoutMs: 15_000,
    });
    await consumer.stop();
    assert.deepEqual(deliveries, appended.seqs);
    assert.equal(calls, 3);
    assert.deepEqual(letters, []);
  });

  test("subscribeLive delivers in order from a sequence", async () => {
    const planId = `p-${randomUUID()}`;
    const r = await store.append([requested(planId), failed(planId, "x")]);
    const got: number[] = [];
    const live = await store.subscribeLive({
      fromSeq: r.seqs[0],
      handler: (e) => {
        if (e.aggregate_id === planId) got.push(e.seq);
      },
    });
    const r2 = await store.append([failed(planId, "y")]);
    await waitFor("live events", () => got.length >= 3);
    await live.stop();
    assert.deepEqual(got, [...r.seqs, ...r2.seqs]);
  });
});

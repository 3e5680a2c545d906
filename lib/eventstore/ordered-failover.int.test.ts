/**
 * Ordered consumers across a lost server, on a 3-node cluster of the test's own (R3 streams): the
 * client's ordered consumer is R1 and lives on one node. When that node is SIGKILLed, a live
 * subscription (the WebSocket fan-out's, the projector's) and a whole-stream read must go on from the
 * event after the last one delivered: every event once, in order, none lost.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type AnyRecordedEvent, newEvent } from "../../events/index.ts";
import { type NatsCluster, startNatsCluster, uniqueName, waitFor } from "../../test/support/index.ts";
import { createEventStore, type EventStore } from "./index.ts";

const META = { actor: { kind: "service" as const, id: "test", roles: [] }, correlation_id: "ordered-failover" };

describe("ordered consumers across a killed node (3-node NATS cluster)", () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let store: EventStore;

  before(async () => {
    cluster = await startNatsCluster("ordered");
    nc = await cluster.connect();
    store = createEventStore({ nc, prefix: uniqueName("ordered"), streams: { replicas: 3, output: "safe" } });
    await store.provision();
  });
  after(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  /** Appends `plan.requested` for `ids`, each retried until a leader takes it (an election may be under way). */
  const append = async (ids: readonly string[]) => {
    for (const id of ids) {
      await waitFor(
        `plan ${id} appended`,
        async () => {
          try {
            await store.append(
              [newEvent("plan.requested", id, { plan_id: id, intent: "restart checkout", source: "api" }, META)],
              {
                idempotencyKey: `ordered-${id}`,
              },
            );
            return true;
          } catch {
            return false;
          }
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    }
  };

  it("a live subscription and a whole-stream read go on after the node holding their consumer dies", async () => {
    const before = Array.from({ length: 20 }, (_, i) => `plan_ordered_a${String(i).padStart(3, "0")}`);
    const afterKill = Array.from({ length: 20 }, (_, i) => `plan_ordered_b${String(i).padStart(3, "0")}`);
    await append(before);

    const seen: AnyRecordedEvent[] = [];
    const live = await store.subscribeLive({ fromSeq: 1, handler: (e) => void seen.push(e) });
    try {
      await waitFor("the first events delivered live", () => seen.length === before.length, { timeoutMs: 15_000 });

      // The node the live subscription's (R1, ephemeral) consumer sits on.
      const jsm = await jetstreamManager(nc);
      const host = await waitFor("the live consumer's node", async () => {
        for await (const c of jsm.consumers.list(store.streams.events)) {
          if (!c.config.durable_name && c.cluster?.leader) return c.cluster.leader;
        }
        return null;
      });
      await cluster.kill(host);
      await append(afterKill);

      await waitFor(
        "every event delivered live after the kill",
        () => seen.length >= before.length + afterKill.length,
        {
          timeoutMs: 60_000,
          intervalMs: 200,
        },
      );
      const ids = seen.map((e) => e.aggregate_id);
      assert.deepEqual(ids, [...before, ...afterKill], "each event once, in stream order");

      const read: string[] = [];
      for await (const batch of store.readStream({ fromSeq: 1 })) read.push(...batch.map((e) => e.aggregate_id));
      assert.deepEqual(read, [...before, ...afterKill], "a whole-stream read with the node still down");
    } finally {
      await live.stop();
    }
  });
});

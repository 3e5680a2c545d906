/**
 * Replication on a 3-node cluster of the test's own: what an older version left with one replica is
 * brought to `nats.replicas` where the process's user may, and named with its fix where it may not;
 * a bucket whose only node is down is one line naming it, not a `TimeoutError`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { type NatsCluster, startNatsCluster, uniqueName, waitFor } from "../../test/support/index.ts";
import { ConfigError, UnavailableError } from "../errors/index.ts";
import { createEventStore } from "../eventstore/index.ts";
import { ensureReplication, openBucket } from "./replication.ts";

describe("replication (3-node NATS cluster)", () => {
  let cluster: NatsCluster;
  let admin: NatsConnection;

  before(async () => {
    cluster = await startNatsCluster("repl");
    admin = await cluster.connect();
  });
  after(async () => {
    await admin?.close();
    await cluster?.stop();
  });

  it("raises a one-replica bucket and the streams' durable consumers to nats.replicas", async () => {
    const prefix = uniqueName("repl");
    const jsm = await jetstreamManager(admin);
    await new Kvm(admin).create(`${prefix}_idempotency`, { history: 1 });
    // Safe persistence throughout: a fast (async) stream exists on one replica only.
    const store = createEventStore({ nc: admin, prefix, streams: { replicas: 1, output: "safe" } });
    await store.provision();
    await jsm.consumers.add(store.streams.events, { durable_name: "planner", ack_policy: "explicit" as never });

    await ensureReplication(jsm, prefix, 3);

    for (const stream of [`KV_${prefix}_idempotency`, store.streams.events, store.streams.output, store.streams.dlq]) {
      assert.equal((await jsm.streams.info(stream)).config.num_replicas, 3, stream);
    }
    const consumer = await waitFor("the durable consumer on three nodes", async () => {
      const info = await jsm.consumers.info(store.streams.events, "planner");
      return (info.cluster?.replicas?.length ?? 0) + 1 === 3 ? info : null;
    });
    assert.ok(consumer.cluster?.leader, "the consumer has a leader");
  });

  it("names a fast (one-replica) stream, which cannot be raised, with how to replace it", async () => {
    const prefix = uniqueName("repl");
    const store = createEventStore({ nc: admin, prefix, streams: { replicas: 1 } });
    await store.provision();
    const error = await ensureReplication(await jetstreamManager(admin), prefix, 3).then(
      () => assert.fail("a fast stream passed the check"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, new RegExp(`nats stream rm ${store.streams.output}`));
    // Provisioning with three replicas (what start-up does first) says the same.
    const replicated = createEventStore({ nc: admin, prefix, streams: { replicas: 3 } });
    await assert.rejects(replicated.provision(), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, new RegExp(`nats stream rm ${store.streams.output}`));
      return true;
    });
  });

  it("names what a service's own user may not raise, with the command that does", async () => {
    const prefix = uniqueName("repl");
    await new Kvm(admin).create(`${prefix}_idempotency`, { history: 1 });
    const gateway = await cluster.connect("gateway");
    try {
      const error = await ensureReplication(await jetstreamManager(gateway), prefix, 3).then(
        () => assert.fail("an under-replicated bucket passed the check"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, new RegExp(`nats stream edit KV_${prefix}_idempotency --replicas 3`));
      assert.equal(error.issues[0]?.field, "nats.replicas");
    } finally {
      await gateway.close();
    }
  });

  it("a bucket whose only node is down is one line naming it and the fix, not a TimeoutError", async () => {
    const bucket = uniqueName("repl_r1");
    await new Kvm(admin).create(bucket, { history: 1 });
    const jsm = await jetstreamManager(admin);
    const node = (await jsm.streams.info(`KV_${bucket}`)).cluster?.leader;
    assert.ok(node, "the bucket has a node");
    await cluster.kill(node);
    try {
      const error = await openBucket(admin, { bucket, purpose: "idempotency keys", replicas: 3 }).then(
        () => assert.fail("opened a bucket whose node is down"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof UnavailableError, String(error));
      assert.match(error.message, new RegExp(`KV_${bucket}`));
      assert.match(error.fix ?? "", new RegExp(`nats stream edit KV_${bucket} --replicas 3`));
    } finally {
      await cluster.restart(node);
    }
  });

  it("a bucket created with nats.replicas keeps answering with any one node down", async () => {
    const bucket = uniqueName("repl_r3");
    const kv = await openBucket(admin, { bucket, purpose: "idempotency keys", replicas: 3 });
    await kv.put("k", new TextEncoder().encode("v"));
    const jsm = await jetstreamManager(admin);
    const info = await jsm.streams.info(`KV_${bucket}`);
    assert.equal(info.config.num_replicas, 3);
    const follower = info.cluster?.replicas?.[0]?.name;
    assert.ok(follower, "the bucket has followers");
    await cluster.kill(follower);
    try {
      // Writes and reads go to the bucket's own replicas: two of three are up. (A put written to the
      // killed node's connection before the client noticed is lost, as any request then: retried.)
      await waitFor("a put with one node down", () => kv.put("k2", new TextEncoder().encode("v2")), {
        timeoutMs: 15_000,
      });
      assert.equal(new TextDecoder().decode((await kv.get("k2"))?.value), "v2");
      // Opening it asks JetStream's meta leader, elected again if it was the node killed.
      // On a loaded machine that election can outlast one request's timeout: wait for it to answer.
      await cluster.waitHealthy();
      assert.ok(
        await waitFor(
          "the bucket to open again",
          () => openBucket(admin, { bucket, purpose: "idempotency keys", replicas: 3 }),
          {
            timeoutMs: 30_000,
            intervalMs: 500,
          },
        ),
      );
    } finally {
      await cluster.restart(follower);
    }
  });
});

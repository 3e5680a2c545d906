/**
 * Reads that decide something never trust a replica that is behind the stream's leader: what a
 * direct get returns must reach the leader's last sequence for the subject, or the read asks again
 * and at last reads from the leader.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type StoreContext, subjectMessages } from "./reads.ts";
import { streamNames } from "./streams.ts";

/** A stream whose leader holds `leader` on the subject and whose replicas answer with `replicas[i]` in turn. */
function context(leader: number[], replicas: number[][]) {
  const calls = { direct: 0, leader: 0 };
  const msg = (seq: number) => ({ seq }) as StoredMsg;
  const jsm = {
    direct: {
      async getBatch(_stream: string, opts: { seq: number }) {
        const held = replicas[Math.min(calls.direct, replicas.length - 1)] ?? [];
        calls.direct++;
        const out = held.filter((s) => s >= opts.seq).map(msg);
        return (async function* () {
          yield* out;
        })();
      },
    },
    streams: {
      async getMessage(_stream: string, query: { seq?: number; next_by_subj?: string }) {
        calls.leader++;
        const next = leader.find((s) => s >= (query.seq ?? 0));
        return next === undefined ? null : msg(next);
      },
    },
  } as unknown as JetStreamManager;
  const ctx: StoreContext = {
    nc: {} as NatsConnection,
    jsm: async () => jsm,
    prefix: "t",
    names: streamNames("t"),
    publishTimeoutMs: 1000,
  };
  return { ctx, calls };
}

const seqs = (msgs: readonly StoredMsg[]) => msgs.map((m) => m.seq);

describe("subject reads against replicas", () => {
  it("takes the replica's answer when it reaches the leader's last sequence", async () => {
    const { ctx, calls } = context([3, 5, 9], [[3, 5, 9]]);
    assert.deepEqual(seqs(await subjectMessages(ctx, "T_EVENTS", "t.evt.plan.p", 0, 9)), [3, 5, 9]);
    assert.deepEqual(calls, { direct: 1, leader: 0 });
  });

  it("asks again when the replica that answered is behind", async () => {
    const { ctx, calls } = context(
      [3, 5, 9],
      [
        [3, 5],
        [3, 5, 9],
      ],
    );
    assert.deepEqual(seqs(await subjectMessages(ctx, "T_EVENTS", "t.evt.plan.p", 0, 9)), [3, 5, 9]);
    assert.equal(calls.direct, 2);
  });

  it("reads from the leader when every answer is behind", async () => {
    const { ctx, calls } = context([3, 5, 9], [[3, 5]]);
    assert.deepEqual(seqs(await subjectMessages(ctx, "T_EVENTS", "t.evt.plan.p", 0, 9)), [3, 5, 9]);
    assert.equal(calls.direct, 3);
    assert.equal(calls.leader, 4, "one message get per event, and one that finds none");
  });

  it("without a sequence to reach (a plain read), the first answer stands", async () => {
    const { ctx, calls } = context([3, 5, 9], [[3, 5]]);
    assert.deepEqual(seqs(await subjectMessages(ctx, "T_EVENTS", "t.evt.plan.p", 0)), [3, 5]);
    assert.deepEqual(calls, { direct: 1, leader: 0 });
  });
});

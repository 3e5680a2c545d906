import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConflictError, UnavailableError } from "../../lib/errors/index.ts";
import { connectTestNats, deleteStreams, uniqueName, waitFor } from "../../test/support/index.ts";
import type { ApiRequest } from "./api.ts";
import { createIdempotencyStore } from "./idempotency.ts";

const actor = { kind: "user" as const, id: "alice", roles: ["operator" as const] };
const request = (key: string): ApiRequest =>
  ({
    params: {},
    query: {},
    body: { intent: "x" },
    headers: { "idempotency-key": key },
    actor,
  }) as unknown as ApiRequest;

describe("Idempotency-Key store (real NATS KV)", () => {
  let nc: NatsConnection;
  const bucket = uniqueName("idem");

  before(async () => {
    nc = await connectTestNats();
  });
  after(async () => {
    await deleteStreams(nc, bucket);
    await nc.close();
  });

  /** Leaves a pending claim behind, as a gateway killed mid-command would (another process: another holder). */
  async function abandonClaim(key: string, claimedAt: number) {
    const kv = await new Kvm(nc).open(bucket);
    const kvKey = createHash("sha256").update(`alice\nplans.create\n${key}`).digest("hex");
    const fingerprint = createHash("sha256")
      .update(JSON.stringify({ p: {}, b: { intent: "x" } }))
      .digest("hex");
    await kv.create(
      kvKey,
      new TextEncoder().encode(
        JSON.stringify({ state: "pending", fingerprint, claimed_at: claimedAt, holder: "a-process-that-died" }),
      ),
    );
  }

  it("a retry takes over at once a fresh claim left by a process that died, and runs the command resumed", async () => {
    const clock = 1_000_000;
    const store = await createIdempotencyStore(nc, bucket, 60 * 60 * 1000, () => clock);
    const seen: (boolean | undefined)[] = [];
    const handler = store.wrap("plans.create", async (r) => {
      seen.push(r.resumed);
      return { status: 202, headers: {}, body: { id: "p1" } };
    });
    // Claimed this very millisecond, by a holder that is not this process: nobody will answer it.
    await abandonClaim("k-dead", clock);
    const response = await handler(request("k-dead"));
    assert.equal(response.status, 202);
    // Resumed: the command looks for the dead request's events before deciding again.
    assert.deepEqual(seen, [true]);
    // And from now on the answer is replayed.
    const again = await handler(request("k-dead"));
    assert.equal(again.headers?.["idempotent-replayed"], "true");
    assert.deepEqual(seen, [true]);
  });

  it("a concurrent retry of a request still running in this process gets 409; after it answers, the answer", async () => {
    const clock = 2_000_000;
    const store = await createIdempotencyStore(nc, bucket, 60 * 60 * 1000, () => clock);
    let release: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      release = resolve;
    });
    let runs = 0;
    const handler = store.wrap("plans.create", async () => {
      runs++;
      await running;
      return { status: 202, headers: {}, body: { id: "p2" } };
    });
    const first = handler(request("k-live"));
    await assert.rejects(
      (async () => {
        // The first call has claimed the key once it is running.
        await waitFor("the first call to start running", () => runs > 0, { intervalMs: 1 });
        return handler(request("k-live"));
      })(),
      ConflictError,
    );
    release();
    assert.equal((await first).status, 202);
    const replayed = await handler(request("k-live"));
    assert.equal(replayed.headers?.["idempotent-replayed"], "true");
    assert.equal(runs, 1);
  });

  it("a claim left by this process after an unknown outcome (NATS gone mid-append) is resumed, not locked", async () => {
    const store = await createIdempotencyStore(nc, bucket, 60 * 60 * 1000);
    const seen: (boolean | undefined)[] = [];
    let fail = true;
    const handler = store.wrap("plans.create", async (r) => {
      seen.push(r.resumed);
      if (fail) throw new UnavailableError("JetStream did not acknowledge the append");
      return { status: 202, headers: {}, body: { id: "p3" } };
    });
    await assert.rejects(handler(request("k-unknown")), UnavailableError);
    fail = false;
    assert.equal((await handler(request("k-unknown"))).status, 202);
    assert.deepEqual(seen, [undefined, true]);
  });

  it("a refused command forgets its claim: the fixed request runs fresh with the same key", async () => {
    const store = await createIdempotencyStore(nc, bucket, 60 * 60 * 1000);
    const seen: (boolean | undefined)[] = [];
    let refuse = true;
    const handler = store.wrap("plans.create", async (r) => {
      seen.push(r.resumed);
      if (refuse) throw new ConflictError("the plan changed");
      return { status: 202, headers: {}, body: { id: "p4" } };
    });
    await assert.rejects(handler(request("k-refused")), ConflictError);
    refuse = false;
    assert.equal((await handler(request("k-refused"))).status, 202);
    assert.deepEqual(seen, [undefined, undefined]);
  });
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ConflictError } from "../../lib/errors/index.ts";
import { natsOptions, uniqueName } from "../../test/support/env.ts";
import type { ApiRequest } from "./api.ts";
import { createIdempotencyStore, STALE_CLAIM_MS } from "./idempotency.ts";

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
    nc = await connect(natsOptions());
  });
  after(async () => {
    await new Kvm(nc)
      .open(bucket)
      .then((kv) => kv.destroy())
      .catch(() => {});
    await nc.close();
  });

  /** Leaves a pending claim behind, as a gateway that died mid-command would. */
  async function abandonClaim(key: string, claimedAt: number) {
    const kv = await new Kvm(nc).open(bucket);
    const kvKey = createHash("sha256").update(`alice\nplans.create\n${key}`).digest("hex");
    const fingerprint = createHash("sha256")
      .update(JSON.stringify({ p: {}, b: { intent: "x" } }))
      .digest("hex");
    await kv.create(
      kvKey,
      new TextEncoder().encode(JSON.stringify({ state: "pending", fingerprint, claimed_at: claimedAt })),
    );
  }

  it("a retry after the first request died takes the stale claim over and gets an answer", async () => {
    let clock = 1_000_000;
    const store = await createIdempotencyStore(nc, bucket, 60 * 60 * 1000, () => clock);
    let runs = 0;
    const handler = store.wrap("plans.create", async () => {
      runs++;
      return { status: 202, headers: {}, body: { id: "p1" } };
    });
    await abandonClaim("k-dead", clock);
    // While the claim is fresh the first request may still be running: 409.
    await assert.rejects(handler(request("k-dead")), ConflictError);
    clock += STALE_CLAIM_MS + 1;
    const response = await handler(request("k-dead"));
    assert.equal(response.status, 202);
    assert.equal(runs, 1);
    // And from now on the answer is replayed.
    const again = await handler(request("k-dead"));
    assert.equal(again.headers?.["idempotent-replayed"], "true");
    assert.equal(runs, 1);
  });
});

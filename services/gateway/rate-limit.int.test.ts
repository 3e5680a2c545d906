/**
 * The command rate limit is one budget per actor across gateways: two limiters sharing a KV bucket
 * (as two gateway processes on one NATS do) admit `perMinute` together, not each.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { RateLimitedError } from "../../lib/errors/index.ts";
import { connectTestNats, deleteStreams, uniqueName, waitFor } from "../../test/support/index.ts";
import { createSharedRateLimiter, type SharedRateLimiter } from "./rate-limit.ts";

describe("shared command rate limit (real NATS KV)", () => {
  let nc: NatsConnection;
  const prefix = uniqueName("ratelimit");
  const limiters: SharedRateLimiter[] = [];

  before(async () => {
    nc = await connectTestNats();
  });
  after(async () => {
    for (const limiter of limiters) await limiter.stop();
    await deleteStreams(nc, prefix);
    await nc.close();
  });

  const gateway = async (perMinute: number) => {
    const limiter = await createSharedRateLimiter({
      nc,
      bucket: `${prefix}_rate_limit`,
      replicas: 1,
      perMinute,
      syncMs: 50,
    });
    limiters.push(limiter);
    return limiter;
  };
  const refused = (limiter: SharedRateLimiter, actor: string): boolean => {
    try {
      limiter.take(actor);
      return false;
    } catch (error) {
      if (error instanceof RateLimitedError) return true;
      throw error;
    }
  };

  it("what one gateway admitted is spent at the other", async () => {
    const a = await gateway(10);
    const b = await gateway(10);
    for (let i = 0; i < 7; i++) a.take("user:alice");
    await waitFor("b to learn that a admitted seven of alice's commands", () => b.remaining("user:alice") <= 3);
    // Three left (ten a minute refill one every six seconds, well after this).
    for (let i = 0; i < 3; i++) b.take("user:alice");
    assert.equal(refused(b, "user:alice"), true, "b refuses alice's eleventh command");
    await waitFor("a to learn what b admitted", () => a.remaining("user:alice") === 0);
    assert.equal(refused(a, "user:alice"), true, "a refuses it too");
    assert.equal(b.remaining("user:bob"), 10, "another actor's budget is untouched");
  });

  it("a gateway started later learns what the others admit from then on", async () => {
    const a = await gateway(10);
    a.take("user:carol");
    const c = await gateway(10);
    a.take("user:carol");
    a.take("user:carol");
    await waitFor("c to learn of carol's commands", () => c.remaining("user:carol") <= 8);
  });
});

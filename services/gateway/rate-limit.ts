/**
 * Token buckets, refilled continuously: commands per actor (`rate_limit_per_minute`), and failed
 * authentications per client address (`auth_failures_per_minute`).
 *
 * The command limit holds across every gateway on one NATS (`createSharedRateLimiter`): each gateway
 * admits from its own buckets, with no NATS round trip on the request path, and every `syncMs`
 * publishes what each actor spent there to a KV bucket; every other gateway watches the bucket and
 * takes those tokens from its own bucket for that actor. Two gateways together can overshoot the
 * limit by at most what they admit between two syncs (a quarter of a second's worth). Failed
 * authentications are counted per gateway: a guesser spread over N gateways gets N budgets.
 */
import { createHash, randomBytes } from "node:crypto";
import { type KV, KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { RateLimitedError } from "../../lib/errors/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { openBucket } from "../../lib/runtime/index.ts";

export interface RateLimiter {
  /** Takes one token for `key` or throws `RateLimitedError` with the seconds until one is available. */
  take(key: string): void;
}

/** A rate limiter shared with the other gateways; `stop` ends its sync. */
export interface SharedRateLimiter extends RateLimiter {
  /** Commands `key` may send now, as far as this gateway knows. */
  remaining(key: string): number;
  stop(): Promise<void>;
}

/**
 * Failed authentications per client address. An address that has spent its bucket is refused with
 * 429 before its credentials are even looked at, valid or not, until a token is back: guessing
 * tokens or webhook secrets costs a minute per `perMinute` tries, and a flood of forged tokens
 * cannot keep the gateway busy verifying signatures.
 */
export interface FailureLimiter {
  /** Throws `RateLimitedError` if `key` has no failure left to spend. */
  check(key: string): void;
  /** Spends one failure for `key`. */
  record(key: string): void;
}

interface Bucket {
  tokens: number;
  at: number;
}

function createBuckets(perMinute: number, now: () => number) {
  const buckets = new Map<string, Bucket>();
  const perMs = perMinute / 60_000;
  const refilled = (key: string): Bucket => {
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: perMinute, at: t };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (t - bucket.at) * perMs);
    bucket.at = t;
    return bucket;
  };
  return {
    /** Tokens `key` has now. */
    tokens(key: string): number {
      return buckets.has(key) ? refilled(key).tokens : perMinute;
    },
    /** Seconds until `key` has a token again; 0 when it has one now. */
    wait(key: string): number {
      // An unknown key has a full bucket; checking it must not store one (the map holds spenders only).
      if (!buckets.has(key)) return 0;
      const bucket = refilled(key);
      return bucket.tokens < 1 ? Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) : 0;
    },
    /** Takes `count` tokens (1 by default), down to none. */
    spend(key: string, count = 1): void {
      const bucket = refilled(key);
      bucket.tokens = Math.max(0, bucket.tokens - count);
      buckets.set(key, bucket);
      // Full buckets carry no information; dropping them bounds the map by active callers.
      if (buckets.size > 10_000) for (const [k, b] of buckets) if (b.tokens >= perMinute - 1) buckets.delete(k);
    },
  };
}

/** Commands per actor in this process only; `createSharedRateLimiter` shares them between gateways. */
export function createRateLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  return createLocalLimiter(perMinute, now, (key) => key);
}

function createLocalLimiter(perMinute: number, now: () => number, bucketOf: (key: string) => string) {
  const buckets = createBuckets(perMinute, now);
  return {
    take(key: string): string {
      const bucket = bucketOf(key);
      const retryAfter = buckets.wait(bucket);
      if (retryAfter > 0) {
        throw new RateLimitedError(`too many commands from ${key}; limit is ${perMinute} per minute`, retryAfter, {
          fix: `retry after ${retryAfter} s`,
        });
      }
      buckets.spend(bucket);
      return bucket;
    },
    /** Tokens `key` has left here. */
    remaining(key: string): number {
      return Math.floor(buckets.tokens(bucketOf(key)));
    },
    /** Tokens another gateway spent for this bucket. */
    spentElsewhere(bucket: string, count: number): void {
      if (count > 0) buckets.spend(bucket, count);
    },
  };
}

export interface SharedRateLimiterOptions {
  readonly nc: NatsConnection;
  /** The KV bucket the gateways share (`<prefix>_rate_limit`). */
  readonly bucket: string;
  /** `nats.replicas`. */
  readonly replicas: number;
  readonly perMinute: number;
  /** How often what this gateway admitted is published; default 250 ms. */
  readonly syncMs?: number | undefined;
  readonly now?: (() => number) | undefined;
  readonly logger?: Logger | undefined;
}

/** What one gateway has admitted for one actor since it started: `total`, of which `delta` since its last put. */
interface Spent {
  readonly total: number;
  readonly delta: number;
}

/** An actor idle this long is forgotten here; its KV entries expire after the same time. */
const IDLE_MS = 2 * 60_000;

/**
 * Commands per actor across every gateway sharing `bucket` (see the file's comment). Each gateway
 * writes only its own key per actor (`<actor hash>.<gateway id>`: what it admitted in total), so
 * writes never contend; an actor's key expires two minutes after its last command.
 */
export async function createSharedRateLimiter(opts: SharedRateLimiterOptions): Promise<SharedRateLimiter> {
  const now = opts.now ?? Date.now;
  const gatewayId = randomBytes(8).toString("hex");
  const kv: KV = await openBucket(opts.nc, {
    bucket: opts.bucket,
    purpose: "command rate-limit counters",
    replicas: opts.replicas,
    ttlMs: IDLE_MS,
  });
  // An actor's id may hold characters a KV key cannot; its hash cannot, and says nothing about it.
  const limiter = createLocalLimiter(opts.perMinute, now, (actor) =>
    createHash("sha256").update(actor).digest("hex").slice(0, 32),
  );
  /** What this gateway admitted per actor bucket, and how much of it is published. */
  const mine = new Map<string, { total: number; published: number; at: number }>();
  /** The last total seen from each other gateway's key. */
  const seen = new Map<string, { total: number; at: number }>();
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let failing = false;

  const sync = async () => {
    const t = now();
    const puts: Promise<unknown>[] = [];
    for (const [bucket, spent] of mine) {
      if (spent.total === spent.published) {
        if (t - spent.at > IDLE_MS) mine.delete(bucket);
        continue;
      }
      const value: Spent = { total: spent.total, delta: spent.total - spent.published };
      spent.published = spent.total;
      puts.push(kv.put(`${bucket}.${gatewayId}`, enc.encode(JSON.stringify(value))));
    }
    for (const [key, entry] of seen) if (t - entry.at > IDLE_MS) seen.delete(key);
    const failed = (await Promise.allSettled(puts)).find((r) => r.status === "rejected");
    if (failed && !failing) {
      opts.logger?.warn(
        { err: failed.reason },
        "rate-limit counters not shared (NATS); the limit holds per gateway meanwhile",
      );
    }
    failing = failed !== undefined;
  };
  let syncing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    syncing = syncing.then(sync);
  }, opts.syncMs ?? 250);
  timer.unref();

  const updates = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
  const watching = (async () => {
    for await (const entry of updates) {
      if (entry.operation !== "PUT" || entry.key.endsWith(`.${gatewayId}`)) continue;
      let spent: Spent;
      try {
        spent = JSON.parse(dec.decode(entry.value)) as Spent;
      } catch {
        continue;
      }
      const last = seen.get(entry.key);
      // A key not seen before counts its last delta only (earlier spends predate this watcher); a
      // smaller total is a restarted gateway counting from zero again.
      const count =
        last === undefined ? spent.delta : spent.total >= last.total ? spent.total - last.total : spent.total;
      seen.set(entry.key, { total: spent.total, at: now() });
      limiter.spentElsewhere(entry.key.slice(0, entry.key.indexOf(".")), count);
    }
  })();

  return {
    take(key) {
      const bucket = limiter.take(key);
      const spent = mine.get(bucket);
      if (spent) {
        spent.total++;
        spent.at = now();
      } else mine.set(bucket, { total: 1, published: 0, at: now() });
    },
    remaining: (key) => limiter.remaining(key),
    async stop() {
      clearInterval(timer);
      await syncing.then(sync).catch(() => {});
      updates.stop();
      await watching.catch(() => {});
    },
  };
}

export function createFailureLimiter(perMinute: number, now: () => number = Date.now): FailureLimiter {
  const buckets = createBuckets(perMinute, now);
  return {
    check(key) {
      const retryAfter = buckets.wait(key);
      if (retryAfter > 0) {
        throw new RateLimitedError(
          `too many failed authentications from ${key}; limit is ${perMinute} per minute`,
          retryAfter,
          { fix: `retry after ${retryAfter} s with valid credentials` },
        );
      }
    },
    record(key) {
      buckets.spend(key);
    },
  };
}

/**
 * Token buckets, refilled continuously: commands per actor (`rate_limit_per_minute`), and failed
 * authentications per client address (`auth_failures_per_minute`).
 */
import { RateLimitedError } from "../../lib/errors/index.ts";

export interface RateLimiter {
  /** Takes one token for `key` or throws `RateLimitedError` with the seconds until one is available. */
  take(key: string): void;
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
    /** Seconds until `key` has a token again; 0 when it has one now. */
    wait(key: string): number {
      // An unknown key has a full bucket; checking it must not store one (the map holds spenders only).
      if (!buckets.has(key)) return 0;
      const bucket = refilled(key);
      return bucket.tokens < 1 ? Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) : 0;
    },
    spend(key: string): void {
      const bucket = refilled(key);
      bucket.tokens = Math.max(0, bucket.tokens - 1);
      buckets.set(key, bucket);
      // Full buckets carry no information; dropping them bounds the map by active callers.
      if (buckets.size > 10_000) for (const [k, b] of buckets) if (b.tokens >= perMinute - 1) buckets.delete(k);
    },
  };
}

export function createRateLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  const buckets = createBuckets(perMinute, now);
  return {
    take(key) {
      const retryAfter = buckets.wait(key);
      if (retryAfter > 0) {
        throw new RateLimitedError(`too many commands from ${key}; limit is ${perMinute} per minute`, retryAfter, {
          fix: `retry after ${retryAfter} s`,
        });
      }
      buckets.spend(key);
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

/** Per-actor token buckets for commands: `rate_limit_per_minute` requests, refilled continuously. */
import { RateLimitedError } from "../../lib/errors/index.ts";

export interface RateLimiter {
  /** Takes one token for `key` or throws `RateLimitedError` with the seconds until one is available. */
  take(key: string): void;
}

export function createRateLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = perMinute / 60_000;
  return {
    take(key) {
      const t = now();
      const bucket = buckets.get(key) ?? { tokens: perMinute, at: t };
      bucket.tokens = Math.min(perMinute, bucket.tokens + (t - bucket.at) * perMs);
      bucket.at = t;
      if (bucket.tokens < 1) {
        buckets.set(key, bucket);
        const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
        throw new RateLimitedError(`too many commands from ${key}; limit is ${perMinute} per minute`, retryAfter, {
          fix: `retry after ${retryAfter} s`,
        });
      }
      bucket.tokens -= 1;
      buckets.set(key, bucket);
      // Full buckets carry no information; dropping them bounds the map by active callers.
      if (buckets.size > 10_000) for (const [k, b] of buckets) if (b.tokens >= perMinute - 1) buckets.delete(k);
    },
  };
}

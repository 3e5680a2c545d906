/**
 * Tokens already verified, so that a client sending the same bearer token with every request
 * costs one signature check (an ECDSA or RSA verification, the largest single cost of a request
 * in the gateway's profile) per `ttlMs`, not one per request.
 *
 * An entry never outlives what verification checked: it ends at the token's `exp`, at `iat` plus
 * the maximum token age, or `ttlMs` after the check, whichever comes first. After that the token
 * is verified afresh (and may be refused). Only successes are kept, keyed by the token's SHA-256
 * (the tokens themselves are not held), at most `maxEntries`, oldest dropped first.
 */
import { createHash } from "node:crypto";

export interface VerifiedTokens<T> {
  get(token: string): T | undefined;
  /** Keeps `value` for `token` until `expiresAtMs` (or the ttl, if sooner). */
  set(token: string, value: T, expiresAtMs: number): void;
}

export function createVerifiedTokens<T>(opts: {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly now: () => number;
}): VerifiedTokens<T> {
  const entries = new Map<string, { value: T; until: number }>();
  const keyOf = (token: string) => createHash("sha256").update(token).digest("base64");
  return {
    get(token) {
      if (opts.ttlMs <= 0) return undefined;
      const key = keyOf(token);
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (opts.now() < entry.until) return entry.value;
      entries.delete(key);
      return undefined;
    },
    set(token, value, expiresAtMs) {
      const now = opts.now();
      const until = Math.min(expiresAtMs, now + opts.ttlMs);
      if (opts.ttlMs <= 0 || until <= now) return;
      const key = keyOf(token);
      entries.delete(key);
      if (entries.size >= opts.maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(key, { value, until });
    },
  };
}

/**
 * `Idempotency-Key` for commands: the first answer is stored in a NATS KV
 * bucket under the key (scoped to the caller and the operation), and a retry
 * gets that answer back without running the command again. A retry that
 * arrives while the first is still running gets 409; the same key with a
 * different body gets 422. The append itself also carries a `Nats-Msg-Id`
 * derived from the key, so even a lost KV entry cannot double-append.
 */
import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConflictError, ValidationError, WheelhouseError } from "../../lib/errors/index.ts";
import type { ApiRequest, ApiResponse, Handler } from "./api.ts";

interface Stored {
  readonly state: "pending" | "done";
  readonly fingerprint: string;
  readonly response?: ApiResponse;
  /** When the pending claim was taken, ms since the epoch. */
  readonly claimed_at?: number;
}

/**
 * A claim still pending after this long belongs to a request that died (or could not record its
 * answer): the next retry takes it over. Longer than any command may take (the longest read-your-
 * writes wait plus the append's timeout).
 */
export const STALE_CLAIM_MS = 60_000;

export interface IdempotencyStore {
  wrap(operation: string, handler: Handler): Handler;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export async function createIdempotencyStore(
  nc: NatsConnection,
  bucket: string,
  ttlMs: number,
  now: () => number = Date.now,
): Promise<IdempotencyStore> {
  const isStale = (stored: Stored) => stored.state === "pending" && now() - (stored.claimed_at ?? 0) > STALE_CLAIM_MS;
  const kv: KV = await new Kvm(nc).create(bucket, { ttl: ttlMs, history: 1 });
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  return {
    wrap(operation, handler) {
      return async (request: ApiRequest) => {
        const key = request.headers["idempotency-key"];
        if (key === undefined) return handler(request);
        if (!KEY_PATTERN.test(key)) {
          throw new ValidationError("the Idempotency-Key is not usable", {
            field: "Idempotency-Key",
            fix: "send 1-255 printable ASCII characters, e.g. a UUID",
          });
        }
        const kvKey = createHash("sha256")
          .update(`${request.actor?.id ?? "-"}\n${operation}\n${key}`)
          .digest("hex");
        const fingerprint = createHash("sha256")
          .update(JSON.stringify({ p: request.params, b: request.body ?? null }))
          .digest("hex");
        const claim = enc.encode(JSON.stringify({ state: "pending", fingerprint, claimed_at: now() } satisfies Stored));
        const existing = await kv.get(kvKey);
        if (existing && existing.operation === "PUT") {
          const stored = JSON.parse(dec.decode(existing.value)) as Stored;
          if (stored.fingerprint !== fingerprint || !isStale(stored)) return replay(stored, fingerprint);
          // The first attempt died after claiming the key. Running the command again is safe: its append
          // carries a Nats-Msg-Id derived from the key, so JetStream hands back the first outcome.
          try {
            await kv.update(kvKey, claim, existing.revision);
          } catch {
            throw busy();
          }
        } else {
          try {
            await kv.create(kvKey, claim);
          } catch {
            // Someone else claimed the key between our get and create.
            const raced = await kv.get(kvKey);
            if (raced && raced.operation === "PUT")
              return replay(JSON.parse(dec.decode(raced.value)) as Stored, fingerprint);
            throw busy();
          }
        }
        let response: ApiResponse;
        try {
          response = await handler(request);
        } catch (error) {
          // Failed commands are not remembered: the client may fix the request and retry with the same key.
          await kv.delete(kvKey).catch(() => undefined);
          throw error;
        }
        // The command is accepted whether or not its answer can be remembered; a retry after a failed
        // put finds a claim that goes stale and re-runs into the deduplicated append.
        await kv
          .put(kvKey, enc.encode(JSON.stringify({ state: "done", fingerprint, response } satisfies Stored)))
          .catch(() => undefined);
        return response;
      };
    },
  };
}

function busy(): ConflictError {
  return new ConflictError("a request with this Idempotency-Key is being processed", {
    field: "Idempotency-Key",
    fix: "wait for the first request to finish, then retry",
  });
}

function replay(stored: Stored, fingerprint: string): ApiResponse {
  if (stored.fingerprint !== fingerprint) {
    throw new WheelhouseError(
      "idempotency_key_reused",
      422,
      "this Idempotency-Key was already used with a different request",
      { field: "Idempotency-Key", fix: "use a new key for a different request" },
    );
  }
  if (stored.state === "pending" || !stored.response) throw busy();
  return {
    ...stored.response,
    headers: { ...stored.response.headers, "idempotent-replayed": "true" },
  };
}

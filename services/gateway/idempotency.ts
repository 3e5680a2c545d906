/**
 * `Idempotency-Key` for commands: the first answer is stored in a NATS KV
 * bucket under the key (scoped to the caller and the operation), and a retry
 * gets that answer back without running the command again. The same key with
 * a different body gets 422. The append itself also carries a `Nats-Msg-Id`
 * derived from the key, so even a lost KV entry cannot double-append.
 *
 * A claim without an answer belongs either to a request still running in
 * this process (a concurrent retry gets 409) or to one that will never answer:
 * its process was killed, or NATS went away before the answer was stored. A
 * retry takes such a claim over at once and runs the command `resumed`: the
 * command answers from the events the first request appended under the key
 * when they are there, and decides again when they are not. Nothing is
 * appended twice either way: every append is keyed. A claim held by another
 * live gateway is taken over too; both then append under the same key and
 * one of them gets the other's events back.
 *
 * The bucket has `nats.replicas` replicas like every stream, so that a cluster node going down does
 * not take the keys with it. Its reads are direct gets, which any replica may answer, one that is
 * behind included: a claim or answer that seems missing or stale there shows up as a failed
 * compare-and-set, after which the entry is read again from the stream's leader.
 */
import { createHash, randomUUID } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  ConflictError,
  toWheelhouseError,
  UnavailableError,
  ValidationError,
  WheelhouseError,
} from "../../lib/errors/index.ts";
import { isNoAnswer } from "../../lib/eventstore/index.ts";
import { openBucket } from "../../lib/runtime/index.ts";
import type { ApiRequest, ApiResponse, Handler } from "./api.ts";

interface Stored {
  readonly state: "pending" | "done";
  readonly fingerprint: string;
  readonly response?: ApiResponse;
  /** When the pending claim was taken, ms since the epoch. */
  readonly claimed_at?: number;
  /** The gateway process that took the claim (a random id per store). */
  readonly holder?: string;
}

/**
 * Even this process's own in-flight claim is taken over after this long: no command runs longer
 * (the longest read-your-writes wait plus the append's timeout), so its holder is stuck.
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
  replicas = 1,
): Promise<IdempotencyStore> {
  const holder = randomUUID();
  /** KV keys of the commands running in this process right now. */
  const inFlight = new Set<string>();
  // Only a claim this process holds and is still working on can have an answer coming; any other
  // claim without an answer (a killed process's, a lost answer's) is taken over straight away.
  const isLive = (kvKey: string, stored: Stored) =>
    stored.holder === holder && inFlight.has(kvKey) && now() - (stored.claimed_at ?? 0) <= STALE_CLAIM_MS;
  const kv: KV = await openBucket(nc, { bucket, purpose: "idempotency keys", replicas, ttlMs, history: 1 });
  const jsm = await jetstreamManager(nc);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  /** The entry as the bucket's leader has it (a stream message get), `null` when there is none or it was deleted. */
  const readFromLeader = async (kvKey: string): Promise<Stored | null> => {
    const msg = await jsm.streams
      .getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${kvKey}` })
      .catch((e: unknown) => {
        throw unanswered(e);
      });
    if (msg === null || msg.data.length === 0 || msg.header?.get("KV-Operation")) return null;
    return JSON.parse(dec.decode(msg.data)) as Stored;
  };

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
        const claim = enc.encode(
          JSON.stringify({ state: "pending", fingerprint, claimed_at: now(), holder } satisfies Stored),
        );
        let resumed = false;
        const existing = await kv.get(kvKey).catch((e: unknown) => {
          throw unanswered(e);
        });
        if (existing && existing.operation === "PUT") {
          const stored = JSON.parse(dec.decode(existing.value)) as Stored;
          if (stored.fingerprint !== fingerprint || stored.state === "done" || isLive(kvKey, stored)) {
            return replay(stored, fingerprint);
          }
          // Nobody will answer this claim. Taking it over is safe: the command looks for the first
          // attempt's events before deciding, and its append carries the same key.
          try {
            await kv.update(kvKey, claim, existing.revision);
          } catch (e) {
            if (isNoAnswer(e)) throw unanswered(e);
            // Another retry took it over (or the answer landed) between our read and write, or our read
            // came from a replica that was behind.
            const raced = await readFromLeader(kvKey);
            if (raced) return replay(raced, fingerprint);
            throw busy();
          }
          resumed = true;
        } else {
          try {
            await kv.create(kvKey, claim);
          } catch (e) {
            if (isNoAnswer(e)) throw unanswered(e);
            // Someone else claimed the key between our get and create (or our get came from a replica
            // that was behind).
            const raced = await readFromLeader(kvKey);
            if (raced) return replay(raced, fingerprint);
            throw busy();
          }
        }
        let response: ApiResponse;
        inFlight.add(kvKey);
        try {
          response = await handler(resumed ? { ...request, resumed } : request);
        } catch (error) {
          // A refused command is not remembered: the client may fix the request and retry with the same
          // key. After a failure whose outcome is unknown (NATS gone mid-append) the claim stays, so the
          // retry is resumed and finds the events if the append landed after all.
          if (toWheelhouseError(error).status < 500) await kv.delete(kvKey).catch(() => undefined);
          throw error;
        } finally {
          inFlight.delete(kvKey);
        }
        // The command is accepted whether or not its answer can be remembered; a retry after a failed
        // put finds a claim nobody is working on, and answers from the events.
        await kv
          .put(kvKey, enc.encode(JSON.stringify({ state: "done", fingerprint, response } satisfies Stored)))
          .catch(() => undefined);
        return response;
      };
    },
  };
}

/**
 * The bucket did not answer (a leader election, its nodes down): 503, and the client retries with the
 * same key; nothing was claimed, or the claim is taken over by the retry.
 */
function unanswered(error: unknown): unknown {
  if (!isNoAnswer(error)) return error;
  return new UnavailableError("the Idempotency-Key store (NATS KV) did not answer", {
    cause: error,
    field: "Idempotency-Key",
    fix: "retry with the same Idempotency-Key in a few seconds",
  });
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

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
}

export interface IdempotencyStore {
  wrap(operation: string, handler: Handler): Handler;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export async function createIdempotencyStore(
  nc: NatsConnection,
  bucket: string,
  ttlMs: number,
): Promise<IdempotencyStore> {
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
        const existing = await kv.get(kvKey);
        if (existing && existing.operation === "PUT") {
          const stored = JSON.parse(dec.decode(existing.value)) as Stored;
          return replay(stored, fingerprint);
        }
        try {
          await kv.create(kvKey, enc.encode(JSON.stringify({ state: "pending", fingerprint } satisfies Stored)));
        } catch {
          // Someone else claimed the key between our get and create.
          const raced = await kv.get(kvKey);
          if (raced && raced.operation === "PUT")
            return replay(JSON.parse(dec.decode(raced.value)) as Stored, fingerprint);
          throw new ConflictError("a request with this Idempotency-Key is being processed", {
            field: "Idempotency-Key",
            fix: "wait for the first request to finish, then retry",
          });
        }
        let response: ApiResponse;
        try {
          response = await handler(request);
        } catch (error) {
          // Failed commands are not remembered: the client may fix the request and retry with the same key.
          await kv.delete(kvKey).catch(() => undefined);
          throw error;
        }
        await kv.put(kvKey, enc.encode(JSON.stringify({ state: "done", fingerprint, response } satisfies Stored)));
        return response;
      };
    },
  };
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
  if (stored.state === "pending" || !stored.response) {
    throw new ConflictError("a request with this Idempotency-Key is being processed", {
      field: "Idempotency-Key",
      fix: "wait for the first request to finish, then retry",
    });
  }
  return {
    ...stored.response,
    headers: { ...stored.response.headers, "idempotent-replayed": "true" },
  };
}

/**
 * Linear deliveries (`POST /v1/webhooks/linear`): `Linear-Signature` is the hex
 * HMAC-SHA256 of the raw body with the webhook's signing secret, and the body's
 * `webhookTimestamp` (ms) must be within 60 s of now, as Linear documents; a
 * body already taken (the same signature again, within the window) is a replay.
 * All three are refused with 401 before anything is read into an event. A
 * verified delivery goes to the approvals service over NATS (schemas/rpc/approvals.ts),
 * which owns Linear and answers with what it made of it.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import * as v from "valibot";
import { UnauthenticatedError, UnavailableError, ValidationError } from "../../../lib/errors/index.ts";
import {
  type LinearWebhookHandoff,
  LinearWebhookOutcomeSchema,
  LinearWebhookSchema,
  linearWebhookSubject,
} from "../../../schemas/rpc/approvals.ts";
import { type ApiRequest, type ApiResponse, parseInput } from "../api.ts";
import { requireSecret, unauthenticated } from "./common.ts";

export interface LinearWebhookDeps {
  /** `approvals.linear.webhook_secret`, resolved; null refuses every delivery. */
  readonly secret: string | null;
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly now: () => Date;
  /** How long the approvals service may take to act on a delivery; default 10 s (Linear waits longer). */
  readonly timeoutMs?: number | undefined;
}

/** Linear's replay window: a body signed longer ago than this is stale. */
const WINDOW_MS = 60_000;
const FIX = "set the webhook's signing secret in Linear (Settings → API → webhook) to approvals.linear.webhook_secret";

export function createLinearWebhook(deps: LinearWebhookDeps) {
  // Signatures of bodies taken, until they are stale anyway: one gateway's memory (a replay to another
  // gateway is still harmless, since an answer is recorded once per person and revision).
  const taken = new Map<string, number>();

  function verify(request: ApiRequest, now: number): string {
    const secret = requireSecret(deps.secret, "Linear", "approvals.linear.webhook_secret");
    const sent = request.headers["linear-signature"];
    if (sent === undefined || !/^[0-9a-f]{64}$/.test(sent) || request.rawBody === undefined) {
      throw unauthenticated("Linear", "Linear-Signature", FIX);
    }
    const expected = createHmac("sha256", secret).update(request.rawBody).digest();
    if (!timingSafeEqual(Buffer.from(sent, "hex"), expected)) throw unauthenticated("Linear", "Linear-Signature", FIX);
    const timestamp = (request.body as { webhookTimestamp?: unknown } | null)?.webhookTimestamp;
    if (typeof timestamp !== "number" || Math.abs(now - timestamp) > WINDOW_MS) {
      throw new UnauthenticatedError("the Linear delivery is stale: its webhookTimestamp is not within 60 s of now", {
        field: "webhookTimestamp",
        fix: "deliveries are taken within a minute of being signed; check the clocks, Linear retries on its own",
      });
    }
    for (const [signature, until] of taken) if (until <= now) taken.delete(signature);
    if (taken.has(sent)) {
      throw new UnauthenticatedError("this Linear delivery was already taken (a replay)", {
        field: "Linear-Signature",
        fix: "each signed delivery is taken once; Linear signs every retry afresh",
      });
    }
    return sent;
  }

  return async function linear(request: ApiRequest): Promise<ApiResponse> {
    const now = deps.now().getTime();
    const signature = verify(request, now);
    const webhook = parseInput(LinearWebhookSchema, request.body, "body");
    const delivery = request.headers["linear-delivery"];
    if (!delivery) {
      throw new ValidationError("the Linear delivery id is missing", {
        field: "Linear-Delivery",
        fix: "send the headers Linear sends with every delivery",
      });
    }
    const handoff: LinearWebhookHandoff = { delivery, webhook };
    // Taken before it is handed on, so that a copy racing it is refused; given back if the hand-off fails.
    taken.set(signature, now + 2 * WINDOW_MS);
    try {
      const reply = await deps.nc.request(linearWebhookSubject(deps.prefix), JSON.stringify(handoff), {
        timeout: deps.timeoutMs ?? 10_000,
      });
      const answer = v.safeParse(LinearWebhookOutcomeSchema, reply.json());
      if (!answer.success)
        throw new Error(String((reply.json() as { error?: unknown }).error ?? "an unreadable answer"));
      return { status: 200, body: answer.output };
    } catch (cause) {
      taken.delete(signature);
      throw new UnavailableError(
        `the approvals service did not take the Linear delivery: ${(cause as Error).message}`,
        {
          cause,
          fix: "start the approvals service (it runs in the embedded profile); Linear retries, and polling catches up",
        },
      );
    }
  };
}

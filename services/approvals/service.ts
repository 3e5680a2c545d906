/**
 * The approvals service: opens a Linear issue for every plan revision policy
 * says needs approval (and records `approval.requested` with its links),
 * takes the answers people give there (webhooks handed over by the gateway,
 * polling as the fallback) as `approval.granted`/`approval.denied` on channel
 * `linear`, and writes every answer, the outcome and the execution's result
 * back to the issue, whichever channel they came through.
 *
 *   const approvals = createApprovalsService({ store, logger, linear, identities, rules, planUrl });
 *   await approvals.start();
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import * as v from "valibot";
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { Consumption } from "../../lib/eventstore/index.ts";
import {
  LinearWebhookHandoffSchema,
  type LinearWebhookOutcome,
  linearWebhookSubject,
} from "../../schemas/rpc/approvals.ts";
import { answerWebhook } from "./answer.ts";
import { type ApprovalsContext, type ApprovalsDeps, createContext } from "./context.ts";
import { type OpenOutcome, openApproval } from "./open.ts";
import { followPending, pollOnce, WRITE_BACK_TYPES, writeBack } from "./writeback.ts";

export type { ApprovalsDeps } from "./context.ts";

export interface ApprovalsService {
  /** Acts on one event: `policy.decided` opens the approval, the others are written back. */
  handle(event: AnyRecordedEvent): Promise<OpenOutcome | null>;
  /** A verified Linear delivery, as the gateway hands it over. */
  answerWebhook(handoff: unknown): Promise<LinearWebhookOutcome>;
  /** One polling round (the timer runs it every `pollIntervalMs`). */
  poll(): Promise<void>;
  /** Consumes events and, given a connection, takes the gateway's webhook hand-offs. */
  start(options?: { nc?: NatsConnection | undefined }): Promise<void>;
  stop(): Promise<void>;
}

export function createApprovalsService(deps: ApprovalsDeps): ApprovalsService {
  const ctx = createContext(deps);
  let consumption: Consumption | null = null;
  let subscription: Subscription | null = null;
  let timer: NodeJS.Timeout | null = null;
  let polling: Promise<void> | null = null;

  const handle = async (event: AnyRecordedEvent) => {
    if (event.type === "policy.decided") return openApproval(ctx, event);
    await writeBack(ctx, event);
    return null;
  };

  const poll = () => {
    polling ??= pollOnce(ctx)
      .catch((error: unknown) => ctx.logger.warn({ err: error }, "polling Linear failed"))
      .finally(() => {
        polling = null;
      });
    return polling;
  };

  return {
    handle,
    answerWebhook: (handoff) => answerWebhook(ctx, v.parse(LinearWebhookHandoffSchema, handoff)),
    poll,
    async start(options = {}) {
      consumption = await ctx.store.consume({
        durable: deps.durable ?? "approvals",
        // Plans are opened side by side (a burst of decisions), each plan's events still in order.
        concurrency: 128,
        filterTypes: ["policy.decided", ...WRITE_BACK_TYPES],
        handler: async (event) => {
          await handle(event);
        },
      });
      if (options.nc) subscription = serveWebhooks(ctx, options.nc);
      if (ctx.linear && (deps.pollIntervalMs ?? 0) > 0) {
        await followPending(ctx).catch((error: unknown) =>
          ctx.logger.warn({ err: error }, "reading the plans waiting for approval failed; polling starts empty"),
        );
        timer = setInterval(() => void poll(), deps.pollIntervalMs);
        timer.unref();
      }
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await subscription?.drain().catch(() => {});
      subscription = null;
      await consumption?.stop();
      consumption = null;
      await polling;
    },
  };
}

/** Answers the gateway's hand-offs of verified Linear deliveries; replicas share them as a queue group. */
function serveWebhooks(ctx: ApprovalsContext, nc: NatsConnection): Subscription {
  return nc.subscribe(linearWebhookSubject(ctx.prefix), {
    queue: "approvals",
    callback: (error, msg) => {
      if (error) return;
      void (async () => {
        try {
          const outcome = await answerWebhook(ctx, v.parse(LinearWebhookHandoffSchema, msg.json()));
          msg.respond(JSON.stringify(outcome));
        } catch (cause) {
          ctx.logger.error({ err: cause }, "acting on a Linear delivery failed");
          msg.respond(JSON.stringify({ error: (cause as Error).message }));
        }
      })();
    },
  });
}

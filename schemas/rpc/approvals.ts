/**
 * The hand-off of a verified Linear webhook from the gateway (which checks
 * Linear's signature and timestamp at the edge) to the approvals service
 * (which owns Linear): a NATS request on `<prefix>.approvals.linear.webhook`,
 * answered once the delivery is acted on. No responder means the approvals
 * service is not running: the gateway answers 503 and Linear retries, while the
 * service's polling catches up on its own.
 */
import * as v from "valibot";

export const linearWebhookSubject = (prefix: string) => `${prefix}.approvals.linear.webhook`;

/** The body of a Linear data-change webhook, as far as approvals read it; the rest passes through. */
export const LinearWebhookSchema = v.looseObject({
  action: v.string(),
  type: v.string(),
  webhookTimestamp: v.number(),
  data: v.optional(v.looseObject({ id: v.optional(v.string()) })),
  actor: v.optional(
    v.looseObject({ id: v.optional(v.string()), email: v.optional(v.string()), name: v.optional(v.string()) }),
  ),
  updatedFrom: v.optional(v.record(v.string(), v.unknown())),
});
export type LinearWebhook = v.InferOutput<typeof LinearWebhookSchema>;

export const LinearWebhookHandoffSchema = v.object({
  /** `Linear-Delivery`: the delivery's UUID. */
  delivery: v.string(),
  webhook: LinearWebhookSchema,
});
export type LinearWebhookHandoff = v.InferOutput<typeof LinearWebhookHandoffSchema>;

/** What the approvals service made of a delivery, for the gateway's answer. */
export const LinearWebhookOutcomeSchema = v.object({
  /** `recorded`: an approval or denial appended; `refused`: the person may not approve (told in a comment); `ignored`: not an approval transition. */
  outcome: v.picklist(["recorded", "duplicate", "refused", "ignored"]),
  detail: v.string(),
});
export type LinearWebhookOutcome = v.InferOutput<typeof LinearWebhookOutcomeSchema>;

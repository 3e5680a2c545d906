/** Messages on `/v1/ws`. */
import * as v from "valibot";

export const TopicSchema = v.picklist(["plan.updated", "execution.updated", "audit.created"]);
export type Topic = v.InferOutput<typeof TopicSchema>;

export const SubscribeMessageSchema = v.strictObject({
  type: v.literal("subscribe"),
  topics: v.pipe(v.array(TopicSchema), v.minLength(1)),
  filters: v.optional(
    v.strictObject({
      plan_id: v.optional(v.string()),
      execution_id: v.optional(v.string()),
      service: v.optional(v.string()),
    }),
    {},
  ),
  /** Last stream sequence seen; delivery resumes right after it. */
  cursor: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});
export type SubscribeMessage = v.InferOutput<typeof SubscribeMessageSchema>;

/** Query of the `/v1/ws` handshake: the token, for clients that cannot set headers on it (browsers). */
export const WsQuerySchema = v.strictObject({ access_token: v.optional(v.string()) });

export const AuthMessageSchema = v.strictObject({ type: v.literal("auth"), token: v.string() });

export const ClientMessageSchema = v.variant("type", [SubscribeMessageSchema, AuthMessageSchema]);

export const ServerMessageSchema = v.variant("type", [
  v.object({ type: v.literal("ready"), actor: v.string() }),
  v.object({ type: v.literal("subscribed"), topics: v.array(TopicSchema), cursor: v.nullable(v.number()) }),
  v.object({
    type: v.literal("event"),
    topic: TopicSchema,
    seq: v.number(),
    event: v.object({
      id: v.string(),
      type: v.string(),
      aggregate_type: v.string(),
      aggregate_id: v.string(),
      occurred_at: v.string(),
      actor: v.unknown(),
      payload: v.unknown(),
    }),
  }),
  v.object({ type: v.literal("error"), code: v.string(), detail: v.string() }),
]);

/**
 * The event envelope. Every fact Wheelhouse records is one of these on a
 * JetStream subject of its own aggregate instance; payloads are declared per
 * aggregate family in the sibling files and registered in `registry.ts`.
 *
 * Wire form is snake_case JSON, the same in events, read models and the API.
 */
import * as v from "valibot";

export const RoleSchema = v.picklist(["viewer", "operator", "approver", "admin"]);
export type Role = v.InferOutput<typeof RoleSchema>;

/** Who caused an event: a person (from the JWT), a service, or the system itself (timers). */
export const ActorSchema = v.object({
  kind: v.picklist(["user", "service", "system"]),
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  roles: v.optional(v.array(RoleSchema), []),
  /**
   * The person's approver groups (`sre`, `security`, `break-glass`), from the identity provider's
   * groups claim (lib/auth); policy's approval quorum names them. Absent for services and timers.
   */
  groups: v.optional(v.array(v.pipe(v.string(), v.maxLength(64)))),
  display_name: v.optional(v.string()),
});
export type Actor = v.InferOutput<typeof ActorSchema>;

/** Aggregates own subjects; an event type always belongs to exactly one. */
export const AggregateTypeSchema = v.picklist(["plan", "execution", "signal", "context"]);
export type AggregateType = v.InferOutput<typeof AggregateTypeSchema>;

/** Identifiers become subject tokens, so they may not contain `.`, `*`, `>` or spaces. */
export const IdSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1-128 characters of letters, digits, '-' or '_'"),
);

export const EnvelopeSchema = v.object({
  id: IdSchema,
  type: v.pipe(v.string(), v.regex(/^[a-z_]+\.[a-z_]+$/, "must look like family.past_tense_verb")),
  schema_version: v.pipe(v.number(), v.integer(), v.minValue(1)),
  aggregate_type: AggregateTypeSchema,
  aggregate_id: IdSchema,
  occurred_at: v.pipe(v.string(), v.isoTimestamp()),
  actor: ActorSchema,
  correlation_id: v.pipe(v.string(), v.minLength(1)),
  causation_id: v.nullable(v.string()),
  payload: v.unknown(),
});

/** An event as stored: envelope plus a payload of the declared shape. */
export interface EventEnvelope<TType extends string = string, TPayload = unknown> {
  readonly id: string;
  readonly type: TType;
  readonly schema_version: number;
  readonly aggregate_type: AggregateType;
  readonly aggregate_id: string;
  readonly occurred_at: string;
  readonly actor: Actor;
  readonly correlation_id: string;
  readonly causation_id: string | null;
  readonly payload: TPayload;
}

/** An event read back from the stream, with where it sits there. */
export interface RecordedEvent<TType extends string = string, TPayload = unknown>
  extends EventEnvelope<TType, TPayload> {
  /** Stream sequence: global order within the stream. */
  readonly seq: number;
  /** Version of the aggregate after this event (its subject's last sequence). */
  readonly stream: string;
  readonly subject: string;
}

export const SYSTEM_ACTOR: Actor = { kind: "system", id: "wheelhouse", roles: [] };

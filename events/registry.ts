/**
 * Every event type Wheelhouse knows, its aggregate, its current schema
 * version and its payload schema; old versions are upcast on read.
 */
import { v7 as uuidv7 } from "uuid";
import * as v from "valibot";
import { ValidationError } from "../lib/errors/index.ts";
import { approvalEvents } from "./approval.ts";
import { upcastApprovalDeniedV1, upcastApprovalGrantedV1 } from "./approval.v1.ts";
import { contextEvents } from "./context.ts";
import { type Actor, type AggregateType, EnvelopeSchema, type EventEnvelope, type RecordedEvent } from "./envelope.ts";
import { evidenceEvents } from "./evidence.ts";
import { executionEvents } from "./execution.ts";
import { planEvents } from "./plan.ts";
import { upcastPlanRequestedV1 } from "./plan.v1.ts";
import { policyEvents } from "./policy.ts";
import { signalEvents } from "./signal.ts";
import { storableValue } from "./storable.ts";
import { toolCallEvents } from "./tool-call.ts";

interface EventDefinition {
  readonly aggregate: AggregateType | readonly AggregateType[];
  readonly version: number;
  readonly schema: v.GenericSchema;
}

export const eventCatalog = {
  ...planEvents,
  ...policyEvents,
  ...approvalEvents,
  ...executionEvents,
  ...toolCallEvents,
  ...evidenceEvents,
  ...signalEvents,
  ...contextEvents,
} as const satisfies Record<string, EventDefinition>;

export type EventType = keyof typeof eventCatalog;
export type EventPayload<T extends EventType> = v.InferOutput<(typeof eventCatalog)[T]["schema"]>;
/** Any known event, discriminated on `type`. */
export type AnyEvent = { [K in EventType]: EventEnvelope<K, EventPayload<K>> }[EventType];
export type AnyRecordedEvent = { [K in EventType]: RecordedEvent<K, EventPayload<K>> }[EventType];

/** Upcasters: type → the schema version they read → a payload one version newer. */
const upcasters: Partial<Record<EventType, Record<number, (payload: unknown) => unknown>>> = {
  "plan.requested": { 1: upcastPlanRequestedV1 },
  "approval.granted": { 1: upcastApprovalGrantedV1 },
  "approval.denied": { 1: upcastApprovalDeniedV1 },
};

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventCatalog, type);
}

export function aggregatesOf(type: EventType): readonly AggregateType[] {
  const def: EventDefinition = eventCatalog[type];
  return typeof def.aggregate === "string" ? [def.aggregate] : def.aggregate;
}

export interface EventMeta {
  readonly actor: Actor;
  readonly correlation_id: string;
  readonly causation_id?: string | null | undefined;
  readonly occurred_at?: string | undefined;
  readonly id?: string | undefined;
  /** Needed only for types recorded on more than one aggregate (evidence). */
  readonly aggregate_type?: AggregateType | undefined;
}

/**
 * Builds a new event of the current schema version, validating its payload.
 * Strings come out storable (NUL and unpaired surrogates become U+FFFD, see
 * storable.ts), so the event a caller holds is the one the stream will hold.
 */
export function newEvent<T extends EventType>(
  type: T,
  aggregateId: string,
  payload: v.InferInput<(typeof eventCatalog)[T]["schema"]>,
  meta: EventMeta,
): EventEnvelope<T, EventPayload<T>> {
  const def: EventDefinition = eventCatalog[type];
  const allowed = aggregatesOf(type);
  const aggregateType = meta.aggregate_type ?? allowed[0];
  if (aggregateType === undefined || !allowed.includes(aggregateType)) {
    throw new ValidationError(`${type} cannot be recorded on a ${meta.aggregate_type} aggregate`, {
      field: "aggregate_type",
      fix: `use one of ${allowed.join(", ")}`,
    });
  }
  const parsed = v.safeParse(def.schema, payload);
  if (!parsed.success) throw payloadError(type, parsed.issues);
  const event = {
    id: meta.id ?? uuidv7(),
    type,
    schema_version: def.version,
    aggregate_type: aggregateType,
    aggregate_id: aggregateId,
    occurred_at: meta.occurred_at ?? new Date().toISOString(),
    actor: meta.actor,
    correlation_id: meta.correlation_id,
    causation_id: meta.causation_id ?? null,
    payload: parsed.output as EventPayload<T>,
  };
  const envelope = v.safeParse(EnvelopeSchema, event);
  if (!envelope.success) throw payloadError(type, envelope.issues, "");
  return storableValue(event);
}

/** Thrown for a type this build does not know (a newer producer); consumers skip it rather than fail. */
export class UnknownEventTypeError extends ValidationError {
  readonly eventType: string;
  constructor(eventType: string) {
    super(`unknown event type ${eventType}`, { field: "type", fix: "upgrade this service to a version that knows it" });
    this.name = "UnknownEventTypeError";
    this.eventType = eventType;
  }
}

/**
 * Validates a stored event, upcasts an older payload version to the current
 * one, and validates the payload. Throws `ValidationError` naming the field.
 */
export function decodeEvent(raw: unknown): AnyEvent {
  const envelope = v.safeParse(EnvelopeSchema, raw);
  if (!envelope.success) throw payloadError("event", envelope.issues, "");
  const event = envelope.output;
  if (!isEventType(event.type)) throw new UnknownEventTypeError(event.type);
  const def: EventDefinition = eventCatalog[event.type];
  let payload = event.payload;
  let version = event.schema_version;
  if (version > def.version) {
    throw new ValidationError(`${event.type} has schema version ${version}, newer than ${def.version}`, {
      field: "schema_version",
      fix: "upgrade this service",
    });
  }
  while (version < def.version) {
    const up = upcasters[event.type]?.[version];
    if (!up) {
      throw new ValidationError(`no upcaster for ${event.type} v${version}`, {
        field: "schema_version",
        fix: `add an upcaster for ${event.type} v${version} in events/`,
      });
    }
    payload = up(payload);
    version++;
  }
  const parsed = v.safeParse(def.schema, payload);
  if (!parsed.success) throw payloadError(event.type, parsed.issues);
  return { ...event, schema_version: version, payload: parsed.output } as AnyEvent;
}

function payloadError(type: string, issues: readonly v.BaseIssue<unknown>[], prefix = "payload."): ValidationError {
  const list = issues.map((issue) => {
    const path = v.getDotPath(issue);
    return {
      field: path ? `${prefix}${path}` : prefix.replace(/\.$/, "") || "(root)",
      message: issue.message,
    };
  });
  const first = list[0];
  return new ValidationError(`invalid ${type}: ${list.map((i) => `${i.field}: ${i.message}`).join("; ")}`, {
    field: first?.field,
    issues: list,
  });
}

/**
 * One audit record per event, and the hash chain over them.
 *
 * The chain: `hash = sha256_hex(prev_hash + canonical(record))`, where
 * `prev_hash` is the previous record's `hash` (64 zeros before the first
 * record), `+` is string concatenation of the lower-case hex digest and the
 * RFC 8785 canonical JSON of the record (UTF-8), and `record` is
 * `AuditRecordBody` below: every column of the row except the chain columns
 * (`seq`, `prev_hash`, `hash`), so changing any other column breaks it. The position is deliberately outside the
 * hash: order is proven by the links, so a record moved elsewhere still
 * hashes correctly and the verifier can say "moved" rather than "altered".
 * An auditor can recompute the chain with any JCS implementation.
 */
import { createHash } from "node:crypto";
import { type Actor, type AnyEvent, type AnyRecordedEvent, storableText, storableValue } from "../../events/index.ts";
import { canonicalize, canonicalizeKnownKeys } from "./canonical.ts";

/** `prev_hash` of the first record. */
export const GENESIS_HASH = "0".repeat(64);

/** The hashed part of an audit record: what happened, to what, by whom, with what result. */
export interface AuditRecordBody {
  readonly event_id: string;
  /** Stream sequence of the event in the events stream. */
  readonly event_seq: number;
  /** The event type, e.g. `approval.granted` (`type` and `action` both hold it: 0001 declares both columns). */
  readonly type: string;
  readonly action: string;
  readonly schema_version: number;
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  /** `aggregate_type/aggregate_id`: what the event is about. */
  readonly subject: string;
  /** `occurred_at` normalized to `Date#toISOString()` (UTC, milliseconds), so it survives a timestamptz round trip. */
  readonly occurred_at: string;
  readonly actor: Actor;
  readonly actor_id: string;
  readonly actor_kind: string;
  readonly outcome: string | null;
  /** The infrastructure service the event names, when it names one (intent, step target, signal). */
  readonly service: string | null;
  readonly correlation_id: string;
  readonly causation_id: string | null;
  readonly payload: unknown;
}

export interface AuditRecord extends AuditRecordBody {
  /** Position in the audit chain, 1, 2, 3, ... without gaps. */
  readonly seq: number;
  readonly prev_hash: string;
  readonly hash: string;
}

/** sha256 over the previous hash and this record's canonical form. */
export function chainHash(prevHash: string, body: AuditRecordBody): string {
  return chainHashOf(prevHash, canonicalize(body));
}

/** `chainHash` for a body already in canonical form. */
export function chainHashOf(prevHash: string, canonicalBody: string): string {
  return createHash("sha256").update(prevHash).update(canonicalBody).digest("hex");
}

/** Builds the hashed part of an event's audit record. */
export function auditBody(event: AnyRecordedEvent): AuditRecordBody {
  return {
    event_id: event.id,
    event_seq: event.seq,
    type: event.type,
    action: event.type,
    schema_version: event.schema_version,
    aggregate_type: event.aggregate_type,
    aggregate_id: event.aggregate_id,
    subject: `${event.aggregate_type}/${event.aggregate_id}`,
    occurred_at: new Date(event.occurred_at).toISOString(),
    actor: normalizeActor(event.actor),
    actor_id: event.actor.id,
    actor_kind: event.actor.kind,
    outcome: deriveOutcome(event),
    service: deriveService(event),
    correlation_id: event.correlation_id,
    causation_id: event.causation_id,
    payload: event.payload,
  };
}

/** Every key of `AuditRecordBody`, in RFC 8785 order (UTF-16 code units; all ASCII here). */
const BODY_KEYS: readonly (keyof AuditRecordBody)[] = [
  "action",
  "actor",
  "actor_id",
  "actor_kind",
  "aggregate_id",
  "aggregate_type",
  "causation_id",
  "correlation_id",
  "event_id",
  "event_seq",
  "occurred_at",
  "outcome",
  "payload",
  "schema_version",
  "service",
  "subject",
  "type",
];

/** The RFC 8785 text of a record body: `canonicalize(body)`, without sorting its (fixed) keys per record. */
export function canonicalAuditBody(body: AuditRecordBody): string {
  return canonicalizeKnownKeys(body as unknown as Record<string, unknown>, BODY_KEYS);
}

/**
 * Links a batch of events onto the chain in memory, starting after
 * `last` (the current head, or null for an empty chain).
 */
export function chainRecords(
  events: readonly AnyRecordedEvent[],
  last: { readonly seq: number; readonly hash: string } | null,
): ChainedRecord[] {
  return chainBodies(events.map(auditBody), last);
}

/** `chainRecords` for bodies already built (events' and dead letters' alike). */
export function chainBodies(
  bodies: readonly AuditRecordBody[],
  last: { readonly seq: number; readonly hash: string } | null,
): ChainedRecord[] {
  let seq = last?.seq ?? 0;
  let prev = last?.hash ?? GENESIS_HASH;
  const out: ChainedRecord[] = [];
  for (const body of bodies) {
    seq++;
    const canonical = canonicalAuditBody(body);
    const hash = chainHashOf(prev, canonical);
    out.push({ seq, ...body, prev_hash: prev, hash, canonical });
    prev = hash;
  }
  return out;
}

/** Outcome of the audit record of a stream message no read model could take. */
export const DEAD_LETTERED = "dead_lettered";

/** A stream message the projector could not project (undecodable, or the audit projection failed on it). */
export interface UnprojectedMessage {
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  /** Stream timestamp, ms since the epoch. */
  readonly timeMs: number;
  /** `decode_error`, `unknown_type` or `handler_failed`. */
  readonly reason: string;
  readonly error: string;
}

/**
 * The audit record of a message that never became a projected event, so
 * that the chain still proves it was in the stream (no silent holes):
 * outcome `dead_lettered`, the envelope's fields as far as they could be
 * read, and in the payload the reason, the error, the sha256 of the raw
 * bytes and the raw message itself (parsed when it is JSON, else its text).
 * Deterministic in the message, so a rebuild gives the same record. Its
 * `event_id` is the stream position (`<stream>:<seq>`): a malformed message
 * may carry no id, or another event's.
 */
export function deadLetterBody(m: UnprojectedMessage): AuditRecordBody {
  // Only what Postgres can store goes into the record (no NUL, no unpaired surrogate: events/storable.ts);
  // the sha256 below still covers the message's exact bytes.
  const text = storableText(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString("utf8"));
  let envelope: Record<string, unknown> | null = null;
  let parsed: unknown;
  try {
    parsed = storableValue(JSON.parse(text));
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
      envelope = parsed as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null);
  // Subjects are `<prefix>.evt.<aggregate_type>.<aggregate_id>`: the store, not the message, put them there.
  const at = m.subject.indexOf(".evt.");
  const rest = at >= 0 ? m.subject.slice(at + 5) : "";
  const dot = rest.indexOf(".");
  const aggregateType = dot > 0 ? rest.slice(0, dot) : (str(envelope?.aggregate_type) ?? "unknown");
  const aggregateId = dot > 0 ? rest.slice(dot + 1) : (str(envelope?.aggregate_id) ?? m.subject);
  const rawActor = envelope?.actor as Record<string, unknown> | undefined;
  const actor: Actor =
    rawActor &&
    typeof rawActor === "object" &&
    str(rawActor.id) &&
    ["user", "service", "system"].includes(rawActor.kind as string)
      ? (normalizeActor(rawActor as unknown as Actor) as Actor)
      : { kind: "system", id: "unknown", roles: [] };
  const occurred = str(envelope?.occurred_at);
  const occurredMs = occurred !== null ? Date.parse(occurred) : Number.NaN;
  const type = str(envelope?.type) ?? "unreadable";
  const version = envelope?.schema_version;
  return {
    event_id: `${m.stream}:${m.seq}`,
    event_seq: m.seq,
    type,
    action: type,
    schema_version: Number.isInteger(version) ? (version as number) : 0,
    aggregate_type: aggregateType,
    aggregate_id: aggregateId,
    subject: `${aggregateType}/${aggregateId}`,
    occurred_at: new Date(Number.isNaN(occurredMs) ? m.timeMs : occurredMs).toISOString(),
    actor,
    actor_id: actor.id,
    actor_kind: actor.kind,
    outcome: DEAD_LETTERED,
    service: null,
    correlation_id: str(envelope?.correlation_id) ?? `${m.stream}:${m.seq}`,
    causation_id: str(envelope?.causation_id),
    payload: {
      reason: m.reason,
      error: storableText(m.error),
      sha256: createHash("sha256").update(m.data).digest("hex"),
      size_bytes: m.data.byteLength,
      ...(parsed === undefined ? { data: text } : { message: parsed }),
    },
  };
}

/** A record with the canonical text its hash was computed over (stored as the `record` column). */
export interface ChainedRecord extends AuditRecord {
  readonly canonical: string;
}

// Drops absent optional fields so the canonical form of an actor is the same before and after a jsonb round trip.
// (An actor's members are strings and an array of strings, so a shallow copy is the JSON round trip.)
function normalizeActor(actor: Actor): Actor {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(actor)) {
    const value = (actor as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as Actor;
}

/**
 * The result an event records, in one word, so that "what was decided and
 * how did it end" can be filtered without reading payloads. Null for events
 * that record a request or a fact with no outcome.
 */
export function deriveOutcome(event: AnyEvent): string | null {
  switch (event.type) {
    case "policy.decided":
      return event.payload.decision;
    case "approval.requested":
      return "pending";
    case "approval.granted":
      return "granted";
    case "approval.denied":
      return "denied";
    case "approval.expired":
      return "expired";
    case "plan.proposed":
      return "proposed";
    case "plan.failed":
      return "failed";
    case "plan.write_authorized":
      return "authorized";
    case "tool_call.started":
      return event.payload.dry_run ? "dry_run" : "started";
    case "tool_call.completed":
      return event.payload.status;
    case "execution.step_started":
    case "execution.step_completed":
      return event.payload.status;
    case "execution.verified":
      return "passed";
    case "execution.verification_failed":
      return "failed";
    case "execution.measured":
      return event.payload.outcome;
    case "execution.paused":
      return "paused";
    case "execution.verdict_requested":
      return event.payload.decision;
    case "execution.rollback_started":
      return "rolling_back";
    case "execution.rolled_back":
      return "rolled_back";
    case "execution.succeeded":
      return "succeeded";
    case "execution.failed":
      return "failed";
    case "execution.cancelled":
      return "cancelled";
    case "signal.received":
      return event.payload.status ?? null;
    case "plan.requested":
    case "execution.requested":
    case "execution.cancel_requested":
    case "execution.started":
    case "execution.notified":
    case "tool_call.output":
    case "evidence.stored":
    case "context.node_upserted":
    case "context.node_removed":
    case "context.edge_upserted":
    case "context.edge_removed":
      return null;
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

function deriveService(event: AnyEvent): string | null {
  switch (event.type) {
    case "plan.requested":
      return event.payload.service ?? null;
    case "plan.proposed":
      return event.payload.steps.find((s) => s.target.service !== undefined)?.target.service ?? null;
    case "signal.received":
      return event.payload.service ?? null;
    default:
      return null;
  }
}

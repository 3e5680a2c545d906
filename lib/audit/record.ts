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
import type { Actor, AnyEvent, AnyRecordedEvent } from "../../events/index.ts";
import { canonicalize } from "./canonical.ts";

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

/**
 * Links a batch of events onto the chain in memory, starting after
 * `last` (the current head, or null for an empty chain).
 */
export function chainRecords(
  events: readonly AnyRecordedEvent[],
  last: { readonly seq: number; readonly hash: string } | null,
): ChainedRecord[] {
  let seq = last?.seq ?? 0;
  let prev = last?.hash ?? GENESIS_HASH;
  const out: ChainedRecord[] = [];
  for (const event of events) {
    seq++;
    const body = auditBody(event);
    const canonical = canonicalize(body);
    const hash = chainHashOf(prev, canonical);
    out.push({ seq, ...body, prev_hash: prev, hash, canonical });
    prev = hash;
  }
  return out;
}

/** A record with the canonical text its hash was computed over (stored as the `record` column). */
export interface ChainedRecord extends AuditRecord {
  readonly canonical: string;
}

// Drops absent optional fields so the canonical form of an actor is the same before and after a jsonb round trip.
function normalizeActor(actor: Actor): Actor {
  return JSON.parse(JSON.stringify(actor)) as Actor;
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
    case "execution.started":
    case "tool_call.output":
    case "evidence.stored":
    case "context.node_upserted":
    case "context.node_removed":
    case "context.edge_upserted":
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

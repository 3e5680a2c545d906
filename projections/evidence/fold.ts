/** The evidence read model as a pure fold: events → the evidence rows they record. */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import { type EventHandlers, handlerTable } from "../handlers.ts";
import type { EvidenceRow } from "./rows.ts";

/** Every evidence event. */
export type EvidenceEventType = Extract<EventType, `evidence.${string}`>;

/** The batch's rows by evidence id; an id seen before keeps its first record. */
type EvidenceRows = Map<string, EvidenceRow>;

const evidenceHandlers = {
  "evidence.stored": (rows, event) => {
    const p = event.payload;
    if (rows.has(p.evidence_id)) return;
    rows.set(p.evidence_id, {
      evidence_id: p.evidence_id,
      owner_type: p.owner_type,
      owner_id: p.owner_id,
      kind: p.kind,
      uri: p.uri,
      sha256: p.sha256,
      size_bytes: p.size_bytes,
      content_type: p.content_type,
      redacted: p.redacted,
      created_at: event.occurred_at,
      last_seq: event.seq,
    });
  },
} satisfies EventHandlers<EvidenceEventType, EvidenceRows>;

const evidence = handlerTable<EvidenceEventType, EvidenceRows>(evidenceHandlers);

/** The event types the evidence read model folds: its handlers' keys. */
export const EVIDENCE_EVENT_TYPES: ReadonlySet<EventType> = evidence.types;

/** Folds events into the rows they record (first record per evidence id wins). */
export function evidenceRows(events: Iterable<AnyRecordedEvent>): EvidenceRow[] {
  const rows: EvidenceRows = new Map();
  for (const e of events) if (evidence.handles(e)) evidence.apply(rows, e);
  return [...rows.values()];
}

/** Pure fold of one event: the evidence row it records, or null. */
export function evidenceRow(event: AnyRecordedEvent): EvidenceRow | null {
  return evidenceRows([event])[0] ?? null;
}

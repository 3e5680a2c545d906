/**
 * Read model `audit_events`: every message of the events stream becomes one
 * hash-chained audit record (lib/audit), written in the projector's
 * transaction together with its checkpoint, so a record exists exactly when
 * the checkpoint says its event was projected. Messages the projector could
 * not project (undecodable, unknown type, or this projection failed on
 * them) get a record too, with outcome `dead_lettered`: the chain has no
 * silent holes.
 */
import { type AnyRecordedEvent, type EventType, eventCatalog } from "../../events/index.ts";
import { type AuditEntry, createAuditAppender } from "../../lib/audit/index.ts";
import type { Projection, ProjectionWriter, UnprojectedEntry } from "../types.ts";

/** Every event type is audited. */
export const AUDIT_EVENT_TYPES: ReadonlySet<EventType> = new Set(Object.keys(eventCatalog) as EventType[]);

/** Events and unprojected messages in one list, in stream order (both inputs are). */
export function inStreamOrder(
  events: readonly AnyRecordedEvent[],
  unprojected: readonly UnprojectedEntry[],
): AuditEntry[] {
  if (unprojected.length === 0) return events as AuditEntry[];
  const out: AuditEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < events.length || j < unprojected.length) {
    const e = events[i];
    const u = unprojected[j];
    if (u === undefined || (e !== undefined && e.seq < u.seq)) {
      out.push(e as AnyRecordedEvent);
      i++;
    } else {
      out.push(u);
      j++;
    }
  }
  return out;
}

/** The audit writer: the chain's head kept in memory between batches (see `createAuditAppender`). */
export function createAuditWriter(): ProjectionWriter {
  const appender = createAuditAppender();
  return {
    reset: () => appender.reset(),
    async prepare(db, events, unprojected) {
      const insert = await appender.prepare(db, inStreamOrder(events, unprojected));
      return insert ? [{ text: insert.text, values: insert.values }] : [];
    },
  };
}

export const auditProjection: Projection = {
  name: "audit",
  tables: ["audit_events"],
  handles: AUDIT_EVENT_TYPES,
  recordsUnprojected: true,
  createWriter: createAuditWriter,
};

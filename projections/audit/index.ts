/**
 * Read model `audit_events`: every event of the events stream becomes one
 * hash-chained audit record (lib/audit), written in the projector's
 * transaction together with its checkpoint, so a record exists exactly when
 * the checkpoint says its event was projected.
 */
import { type EventType, eventCatalog } from "../../events/index.ts";
import { slonikSqlClient } from "../../lib/audit/slonik.ts";
import { appendAuditEvents } from "../../lib/audit/store.ts";
import type { Projection } from "../types.ts";

/** Every event type is audited. */
export const AUDIT_EVENT_TYPES: ReadonlySet<EventType> = new Set(Object.keys(eventCatalog) as EventType[]);

export const auditProjection: Projection = {
  name: "audit",
  tables: ["audit_events"],
  handles: AUDIT_EVENT_TYPES,
  async applyBatch(tx, events) {
    await appendAuditEvents(slonikSqlClient(tx), events);
  },
};

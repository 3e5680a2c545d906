/** Read model `evidence`: where each stored blob is, its digest and what it belongs to. Insert-only. */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import { type Queryable, type Statement, type TableSpec, upsertRows, upsertStatement } from "../../lib/db/sql.ts";
import type { EvidenceRow } from "./rows.ts";

export * from "./queries.ts";
export type * from "./rows.ts";

import { applyWithWriter, type Projection, type ProjectionWriter, type Tx } from "../types.ts";

export const EVIDENCE_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>(["evidence.stored"]);

export const evidenceTable: TableSpec<EvidenceRow> = {
  table: "evidence",
  key: ["evidence_id"],
  columns: {
    evidence_id: "text",
    owner_type: "text",
    owner_id: "text",
    kind: "text",
    uri: "text",
    sha256: "text",
    size_bytes: "int8",
    content_type: "text",
    redacted: "bool",
    created_at: "timestamptz",
    last_seq: "int8",
  },
};

/** Pure fold: an event → the evidence row it records, or null. */
export function evidenceRow(event: AnyRecordedEvent): EvidenceRow | null {
  if (event.type !== "evidence.stored") return null;
  const p = event.payload;
  return {
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
  };
}

/** Inserts evidence rows (design name `insertEvidence`); an id seen before keeps its first record. */
export async function insertEvidence(db: Queryable, rows: readonly EvidenceRow[]): Promise<void> {
  await upsertRows(db, evidenceTable, rows, "nothing");
}

/** The evidence writer: insert-only, nothing held between batches. */
export function createEvidenceWriter(): ProjectionWriter {
  return {
    reset() {},
    async prepare(_db, events) {
      const rows = new Map<string, EvidenceRow>();
      for (const e of events) {
        const row = evidenceRow(e);
        if (row && !rows.has(row.evidence_id)) rows.set(row.evidence_id, row);
      }
      const statement = upsertStatement(evidenceTable, [...rows.values()], "nothing");
      return statement ? [statement] : ([] as Statement[]);
    },
  };
}

export const evidenceProjection: Projection = {
  name: "evidence",
  tables: ["evidence"],
  handles: EVIDENCE_EVENT_TYPES,
  applyBatch: (tx: Tx, events: readonly AnyRecordedEvent[]) => applyWithWriter(createEvidenceWriter(), tx, events),
  createWriter: createEvidenceWriter,
};

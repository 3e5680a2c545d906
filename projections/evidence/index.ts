/** Read model `evidence`: where each stored blob is, its digest and what it belongs to. Insert-only. */
import { type Queryable, type Statement, type TableSpec, upsertRows, upsertStatement } from "../../lib/db/sql.ts";
import type { Projection, ProjectionWriter } from "../types.ts";
import { EVIDENCE_EVENT_TYPES, evidenceRows } from "./fold.ts";
import type { EvidenceRow } from "./rows.ts";

export { EVIDENCE_EVENT_TYPES, type EvidenceEventType, evidenceRow, evidenceRows } from "./fold.ts";
export * from "./queries.ts";
export type * from "./rows.ts";

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

/** Inserts evidence rows (design name `insertEvidence`); an id seen before keeps its first record. */
export async function insertEvidence(db: Queryable, rows: readonly EvidenceRow[]): Promise<void> {
  await upsertRows(db, evidenceTable, rows, "nothing");
}

/** The evidence writer: insert-only, nothing held between batches. */
export function createEvidenceWriter(): ProjectionWriter {
  return {
    reset() {},
    async prepare(_db, events) {
      const statement = upsertStatement(evidenceTable, evidenceRows(events), "nothing");
      return statement ? [statement] : ([] as Statement[]);
    },
  };
}

export const evidenceProjection: Projection = {
  name: "evidence",
  tables: ["evidence"],
  handles: EVIDENCE_EVENT_TYPES,
  createWriter: createEvidenceWriter,
};

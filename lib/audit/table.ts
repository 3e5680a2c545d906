/**
 * The audit table's shape (`audit_events`): its columns, a row as a driver
 * returns it and the record it holds, and the chain's head. Table names are
 * unqualified: the connection's `search_path` selects the schema (tests use
 * their own).
 */
import type { SqlClient } from "../db/sql.ts";
import type { AuditRecord } from "./record.ts";

/** Columns of `audit_events` and their Postgres types, in insert order. */
export const COLUMN_TYPES = {
  seq: "bigint",
  event_id: "text",
  event_seq: "bigint",
  type: "text",
  action: "text",
  schema_version: "int",
  aggregate_type: "text",
  aggregate_id: "text",
  subject: "text",
  occurred_at: "timestamptz",
  actor: "jsonb",
  actor_id: "text",
  actor_kind: "text",
  outcome: "text",
  service: "text",
  correlation_id: "text",
  causation_id: "text",
  payload: "jsonb",
  prev_hash: "text",
  hash: "text",
} as const satisfies Record<keyof AuditRecord, string>;
/** The columns, in insert order. */
export const COLUMNS = Object.keys(COLUMN_TYPES) as (keyof AuditRecord)[];

/** A row of `audit_events` as a driver returns it. */
export type AuditRow = Omit<AuditRecord, "seq" | "event_seq" | "occurred_at"> & {
  seq: string | number;
  event_seq: string | number;
  /** node-postgres gives a Date; slonik's default parser gives epoch milliseconds. */
  occurred_at: Date | number | string;
};

// occurred_at comes back already in Date#toISOString() form: parsing a Date per row is the slowest part of a walk.
export const SELECT_RECORD = COLUMNS.map((c) =>
  c === "occurred_at" ? `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at` : c,
).join(", ");

/** Rebuilds the record from its row, exactly as it was hashed. */
export function rowToRecord(row: AuditRow): AuditRecord {
  const record: Record<string, unknown> = {};
  for (const column of COLUMNS) record[column] = row[column];
  record.seq = Number(row.seq);
  record.event_seq = Number(row.event_seq);
  const at = row.occurred_at;
  record.occurred_at = typeof at === "string" && at.length === 24 && at.endsWith("Z") ? at : new Date(at).toISOString();
  return record as unknown as AuditRecord;
}

/** The last record of the chain, or null when it is empty. */
export async function readHead(db: SqlClient): Promise<{ seq: number; hash: string } | null> {
  const { rows } = await db.query<{ seq: string; hash: string }>(
    "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
  );
  const row = rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash } : null;
}

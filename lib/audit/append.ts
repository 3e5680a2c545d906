/**
 * Appending to the audit chain, inside the projector's transaction: the
 * records of a batch are hashed in memory from the chain's head and written
 * with one INSERT. Everything here takes a `SqlClient`, so the projector
 * passes its transaction's client and tests a pool.
 */
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { SqlClient } from "../db/sql.ts";
import {
  type AuditRecordBody,
  auditBody,
  type ChainedRecord,
  chainBodies,
  deadLetterBody,
  type UnprojectedMessage,
} from "./record.ts";
import { COLUMN_TYPES, COLUMNS, readHead } from "./table.ts";

// `record` is the canonical text the hash covers; it is written, never read back into the columns.
const INSERT_COLUMNS = [...COLUMNS, "record"];

// Every column is read back out of the hashed text itself, so the columns equal what the hash covers by
// construction, and the batch travels as ONE json parameter in which each record's canonical text sits
// verbatim (a \`json\` value keeps its exact text): nothing is escaped or serialized twice in Node.
// `OFFSET 0` keeps the planner from inlining the cast into every column (one jsonb parse per record, not 17).
const INSERT_SQL = `INSERT INTO audit_events (${INSERT_COLUMNS.join(", ")})
  SELECT x.seq, ${COLUMNS.filter((c) => c !== "seq" && c !== "prev_hash" && c !== "hash")
    .map((c) =>
      COLUMN_TYPES[c] === "jsonb"
        ? `r.body -> '${c}'`
        : COLUMN_TYPES[c] === "text"
          ? `r.body ->> '${c}'`
          : `(r.body ->> '${c}')::${COLUMN_TYPES[c]}`,
    )
    .join(", ")}, x.prev_hash, x.hash, x.record::text
  FROM json_to_recordset($1::json) AS x(seq bigint, prev_hash text, hash text, record json)
  CROSS JOIN LATERAL (SELECT x.record::jsonb AS body OFFSET 0) r`;

// Every appender takes this transaction-scoped lock first, so two projector instances cannot fork the chain.
const LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_events'))";

/** The INSERT of chained records (null for none). */
export function insertRecordsStatement(records: readonly ChainedRecord[]): AuditInsert | null {
  if (records.length === 0) return null;
  let json = "[";
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as ChainedRecord;
    json += `${i === 0 ? "" : ","}{"seq":${r.seq},"prev_hash":"${r.prev_hash}","hash":"${r.hash}","record":${r.canonical}}`;
  }
  return { text: INSERT_SQL, values: [`${json}]`], records: records.length };
}

/** An INSERT of audit records, for the caller's transaction. */
export interface AuditInsert {
  readonly text: string;
  readonly values: unknown[];
  /** Records it writes. */
  readonly records: number;
}

export interface AuditAppendResult {
  /** Records written (events already in the chain are skipped). */
  readonly appended: number;
  readonly head: { readonly seq: number; readonly hash: string } | null;
}

/** What goes into the chain: a projected event, or a message no projection could take. */
export type AuditEntry = AnyRecordedEvent | ({ readonly kind: "unprojected" } & UnprojectedMessage);

const bodyOf = (entry: AuditEntry): AuditRecordBody =>
  "kind" in entry && entry.kind === "unprojected" ? deadLetterBody(entry) : auditBody(entry as AnyRecordedEvent);
const idOf = (entry: AuditEntry): string =>
  "kind" in entry && entry.kind === "unprojected" ? `${entry.stream}:${entry.seq}` : (entry as AnyRecordedEvent).id;

/**
 * The audit chain's writer for one projector: it keeps the chain's head
 * (last position and hash) in memory between batches, so that appending a
 * batch costs no query but its INSERT. The head is read (under the
 * advisory lock, with the batch's events checked against the chain) only
 * when it holds none: on start, and after `reset()`, which the projector
 * calls after any failure or when someone else moved the checkpoints. A
 * stale head cannot fork the chain: positions are the primary key, so an
 * append on a stale head fails and the projector starts over cold.
 */
export interface AuditAppender {
  /** Chains `entries` (stream order) after the head and returns the INSERT to run in the same transaction; null when nothing is new. */
  prepare(db: SqlClient, entries: readonly AuditEntry[]): Promise<AuditInsert | null>;
  /** Forgets the head (and with it anything prepared and not committed). */
  reset(): void;
  /** The head as of the last prepare; null when unknown. */
  readonly head: { readonly seq: number; readonly hash: string } | null;
}

export function createAuditAppender(): AuditAppender {
  let head: { seq: number; hash: string } | null = null;
  let known = false;
  return {
    get head() {
      return known ? head : null;
    },
    reset() {
      head = null;
      known = false;
    },
    async prepare(db, entries) {
      let fresh: readonly AuditEntry[] = entries;
      if (!known) {
        await db.query(LOCK_SQL);
        head = await readHead(db);
        known = true;
        if (entries.length > 0) {
          const seen = await db.query<{ event_id: string }>(
            "SELECT event_id FROM audit_events WHERE event_id = ANY($1::text[])",
            [entries.map(idOf)],
          );
          const skip = new Set(seen.rows.map((r) => r.event_id));
          fresh = entries.filter((e) => !skip.has(idOf(e)));
        }
      }
      // The same event twice in one batch is recorded once.
      const ids = new Set<string>();
      const bodies: AuditRecordBody[] = [];
      for (const e of fresh) {
        const id = idOf(e);
        if (ids.has(id)) continue;
        ids.add(id);
        bodies.push(bodyOf(e));
      }
      if (bodies.length === 0) return null;
      const records = chainBodies(bodies, head);
      const last = records[records.length - 1] as ChainedRecord;
      head = { seq: last.seq, hash: last.hash };
      return insertRecordsStatement(records);
    },
  };
}

/**
 * Appends audit records for `events`, in the given order, to the chain.
 * Runs inside the caller's transaction (`tx`): the chain head is read under
 * a transaction-scoped advisory lock, the batch is hashed in memory from it
 * and written with one INSERT. Events already audited (a redelivery) are
 * skipped, so the projection is idempotent.
 */
export async function appendAuditEvents(tx: SqlClient, events: readonly AuditEntry[]): Promise<AuditAppendResult> {
  const appender = createAuditAppender();
  const statement = await appender.prepare(tx, events);
  if (statement === null) return { appended: 0, head: appender.head };
  await tx.query(statement.text, statement.values);
  const head = appender.head as { seq: number; hash: string };
  return { appended: statement.records, head };
}

/** Appends one event; see `appendAuditEvents`. */
export async function appendAuditEvent(tx: SqlClient, event: AnyRecordedEvent): Promise<AuditAppendResult> {
  return appendAuditEvents(tx, [event]);
}

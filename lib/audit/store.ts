/**
 * The audit table: append (inside the projector's transaction) and verify.
 *
 * Both take a `SqlClient`, the smallest interface node-postgres' `Pool`,
 * `PoolClient` and `Client` share, so the projector can pass its
 * transaction's client and tests a pool. Table names are unqualified: the
 * connection's `search_path` selects the schema (tests use their own).
 */
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { SqlClient } from "../db/sql.ts";
import { canonicalize } from "./canonical.ts";
import {
  type AuditRecord,
  type AuditRecordBody,
  auditBody,
  type ChainedRecord,
  chainBodies,
  chainHashOf,
  deadLetterBody,
  GENESIS_HASH,
  type UnprojectedMessage,
} from "./record.ts";

/** Columns of `audit_events` and their Postgres types, in insert order. */
const COLUMN_TYPES = {
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
const COLUMNS = Object.keys(COLUMN_TYPES) as (keyof AuditRecord)[];
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

export interface AppendResult {
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
export async function appendAuditEvents(tx: SqlClient, events: readonly AuditEntry[]): Promise<AppendResult> {
  const appender = createAuditAppender();
  const statement = await appender.prepare(tx, events);
  if (statement === null) return { appended: 0, head: appender.head };
  await tx.query(statement.text, statement.values);
  const head = appender.head as { seq: number; hash: string };
  return { appended: statement.records, head };
}

/** Appends one event; see `appendAuditEvents`. */
export async function appendAuditEvent(tx: SqlClient, event: AnyRecordedEvent): Promise<AppendResult> {
  return appendAuditEvents(tx, [event]);
}

/** The last record of the chain, or null when it is empty. */
export async function readHead(db: SqlClient): Promise<{ seq: number; hash: string } | null> {
  const { rows } = await db.query<{ seq: string; hash: string }>(
    "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
  );
  const row = rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash } : null;
}

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

/** The RFC 8785 form of the part of a record its hash covers. */
export function canonicalBody(record: AuditRecord): string {
  return canonicalize(hashedBody(record));
}

/** The part of a record its hash covers (everything but the chain position and the chain columns). */
export function hashedBody(record: AuditRecord): AuditRecordBody {
  const { seq: _s, prev_hash: _p, hash: _h, ...body } = record;
  return body;
}

export type ChainFailureKind = "altered" | "deleted" | "reordered";

/** The first record at which the chain stops proving itself. */
export interface ChainFailure {
  readonly kind: ChainFailureKind;
  /** Chain position of the record at fault (for `deleted`: the first missing position, or the record after the hole). */
  readonly seq: number;
  readonly event_id: string | null;
  readonly message: string;
  readonly expected?: string | number | undefined;
  readonly found?: string | number | undefined;
}

export interface ChainVerification {
  readonly ok: boolean;
  /** Records checked. */
  readonly checked: number;
  /** The last record checked (the head when the chain is intact). */
  readonly head: { readonly seq: number; readonly hash: string } | null;
  readonly failure: ChainFailure | null;
}

export interface VerifyOptions {
  /** Start at this chain position, trusting the record before it as the anchor. Default 1. */
  readonly from?: number | undefined;
  /** Rows per page. Default 5000. */
  readonly pageSize?: number | undefined;
  /** Also check every column against the hashed text (default true). */
  readonly checkColumns?: boolean | undefined;
}

/**
 * What the verifier reads per record: the chain columns, the canonical text
 * the hash covers, and whether every column still equals that text.
 * Postgres does the column comparison (`record::jsonb` against the columns
 * rebuilt as jsonb, structural equality), on its own core, while Node
 * hashes: no record is parsed or re-canonicalized in JavaScript.
 */
export interface ChainRow {
  readonly seq: number;
  readonly event_id: string;
  readonly action: string;
  readonly prev_hash: string;
  readonly hash: string;
  /** RFC 8785 text of the hashed body. */
  readonly record: string;
  /** The columns equal the record (false: a column was changed without the record). */
  readonly consistent: boolean;
}

const CONSISTENT_SQL = `(record IS NOT NULL AND record::jsonb = jsonb_build_object(${COLUMNS.filter(
  (c) => c !== "seq" && c !== "prev_hash" && c !== "hash",
)
  .map((c) =>
    c === "occurred_at"
      ? `'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
      : `'${c}', ${c}`,
  )
  .join(", ")}))`;

/** `checkColumns: false` trusts the columns (then only the hashed texts and their links are proven). */
export const selectChain = (checkColumns: boolean) =>
  `seq, event_id, action, prev_hash, hash, coalesce(record, '') AS record, ${checkColumns ? CONSISTENT_SQL : "true"} AS consistent`;

/** The chain in order, a page at a time, from after `afterSeq`, optionally filtered (`where` uses $3...). */
export async function* readChainPages(
  db: SqlClient,
  options: {
    readonly afterSeq?: number | undefined;
    readonly pageSize?: number | undefined;
    readonly where?: { readonly sql: string; readonly values: readonly unknown[] } | undefined;
    /** Have Postgres compare every column with the hashed text (default true; ~10 µs of its CPU per row). */
    readonly checkColumns?: boolean | undefined;
  } = {},
): AsyncGenerator<ChainRow[]> {
  const pageSize = options.pageSize ?? 5000;
  const select = selectChain(options.checkColumns ?? true);
  const where = options.where ? ` AND ${options.where.sql}` : "";
  const fetch = (after: number) =>
    db.query<ChainRow & { seq: string | number }>(
      `SELECT ${select} FROM audit_events WHERE seq > $1${where} ORDER BY seq LIMIT $2`,
      [after, pageSize, ...(options.where?.values ?? [])],
    );
  let pending = fetch(options.afterSeq ?? 0);
  for (;;) {
    const { rows } = await pending;
    // Ask for the next page before handing this one out, so Postgres works while the caller hashes.
    const full = rows.length === pageSize;
    if (full) pending = fetch(Number((rows[rows.length - 1] as ChainRow).seq));
    for (const row of rows) (row as { seq: number }).seq = Number(row.seq);
    if (rows.length > 0) yield rows;
    if (!full) return;
  }
}

/** The audit table in chain order, a page at a time, from after `afterSeq`. */
export async function* readAuditPages(
  db: SqlClient,
  options: { readonly afterSeq?: number | undefined; readonly pageSize?: number | undefined } = {},
): AsyncGenerator<AuditRecord[]> {
  const pageSize = options.pageSize ?? 5000;
  const fetch = (after: number) =>
    db.query<AuditRow>(`SELECT ${SELECT_RECORD} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, [
      after,
      pageSize,
    ]);
  let pending = fetch(options.afterSeq ?? 0);
  for (;;) {
    const { rows } = await pending;
    // Ask for the next page before handing this one out, so Postgres works while the caller hashes.
    const full = rows.length === pageSize;
    if (full) pending = fetch(Number((rows[rows.length - 1] as AuditRow).seq));
    if (rows.length > 0) yield rows.map(rowToRecord);
    if (!full) return;
  }
}

/**
 * Checks records one by one in chain order. After the first failure it
 * checks nothing more (every later link would be judged against a broken
 * one) and keeps that failure as the result.
 */
export class ChainChecker {
  #prevHash: string;
  #expectedSeq: number;
  #checked = 0;
  #head: { seq: number; hash: string } | null;
  #failure: ChainFailure | null = null;

  constructor(
    private readonly db: SqlClient,
    anchor: { readonly seq: number; readonly hash: string } | null,
  ) {
    this.#prevHash = anchor?.hash ?? GENESIS_HASH;
    this.#expectedSeq = (anchor?.seq ?? 0) + 1;
    this.#head = anchor ? { seq: anchor.seq, hash: anchor.hash } : null;
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  async check(record: ChainRow): Promise<ChainFailure | null> {
    if (this.#failure) return this.#failure;
    const failure = await judge(this.db, record, this.#expectedSeq, this.#prevHash);
    if (failure) {
      this.#failure = failure;
      return failure;
    }
    this.#checked++;
    this.#prevHash = record.hash;
    this.#expectedSeq = record.seq + 1;
    this.#head = { seq: record.seq, hash: record.hash };
    return null;
  }

  /** Fails the walk from outside (e.g. a missing anchor). */
  fail(failure: ChainFailure): void {
    this.#failure ??= failure;
  }

  result(): ChainVerification {
    return { ok: this.#failure === null, checked: this.#checked, head: this.#head, failure: this.#failure };
  }
}

/** The checker for a walk starting at chain position `from` (its anchor is the record before). */
export async function chainCheckerFrom(db: SqlClient, from = 1): Promise<ChainChecker> {
  if (from <= 1) return new ChainChecker(db, null);
  const { rows } = await db.query<{ seq: string; hash: string }>("SELECT seq, hash FROM audit_events WHERE seq = $1", [
    from - 1,
  ]);
  const row = rows[0];
  if (row) return new ChainChecker(db, { seq: Number(row.seq), hash: row.hash });
  const checker = new ChainChecker(db, null);
  checker.fail({
    kind: "deleted",
    seq: from - 1,
    event_id: null,
    message: `audit record ${from - 1}, the anchor before position ${from}, is missing`,
  });
  return checker;
}

/**
 * Walks the audit chain in pages, in chain order, and checks for every
 * record that its position follows the previous one (a gap means deleted
 * rows), that its hash recomputes from its columns (otherwise it was
 * altered), and that its `prev_hash` is the previous record's `hash`
 * (otherwise it was moved, or the rows before it were deleted and the rest
 * renumbered). Stops at the first record that fails and names it.
 */
export async function verifyAuditChain(db: SqlClient, options: VerifyOptions = {}): Promise<ChainVerification> {
  const from = options.from ?? 1;
  const checker = await chainCheckerFrom(db, from);
  if (checker.failed) return checker.result();
  for await (const page of readChainPages(db, {
    afterSeq: from - 1,
    pageSize: options.pageSize,
    checkColumns: options.checkColumns,
  })) {
    for (const record of page) {
      if (await checker.check(record)) return checker.result();
    }
  }
  return checker.result();
}

async function judge(
  db: SqlClient,
  record: ChainRow,
  expectedSeq: number,
  prevHash: string,
): Promise<ChainFailure | null> {
  if (record.seq !== expectedSeq) {
    return {
      kind: "deleted",
      seq: expectedSeq,
      event_id: null,
      message: `audit records ${expectedSeq}..${record.seq - 1} are missing (the chain jumps from ${expectedSeq - 1} to ${record.seq})`,
      expected: expectedSeq,
      found: record.seq,
    };
  }
  const recomputed = chainHashOf(record.prev_hash, record.record);
  if (recomputed !== record.hash || !record.consistent) {
    return {
      kind: "altered",
      seq: record.seq,
      event_id: record.event_id,
      message:
        recomputed !== record.hash
          ? `audit record ${record.seq} (event ${record.event_id}, ${record.action}) was altered: its content no longer matches its hash`
          : `audit record ${record.seq} (event ${record.event_id}, ${record.action}) was altered: a column no longer matches the hashed record`,
      expected: record.hash,
      found: recomputed,
    };
  }
  if (record.prev_hash !== prevHash) {
    // Intact record in the wrong place: find where its real predecessor sits, if anywhere.
    const { rows } = await db.query<{ seq: string; event_id: string }>(
      "SELECT seq, event_id FROM audit_events WHERE hash = $1 LIMIT 1",
      [record.prev_hash],
    );
    const predecessor = rows[0];
    if (predecessor) {
      return {
        kind: "reordered",
        seq: record.seq,
        event_id: record.event_id,
        message: `audit record ${record.seq} (event ${record.event_id}, ${record.action}) is out of order: it was chained after record ${predecessor.seq} (event ${predecessor.event_id}), not after record ${record.seq - 1}`,
        expected: prevHash,
        found: record.prev_hash,
      };
    }
    return {
      kind: "deleted",
      seq: record.seq,
      event_id: record.event_id,
      message: `the record chained before audit record ${record.seq} (event ${record.event_id}) is missing: its predecessor's hash ${record.prev_hash.slice(0, 12)}… is nowhere in the chain`,
      expected: prevHash,
      found: record.prev_hash,
    };
  }
  return null;
}

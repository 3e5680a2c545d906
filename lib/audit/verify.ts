/**
 * Verifying the audit chain: a walk in chain order, a page at a time, that
 * names the first record at which the chain stops proving itself (deleted,
 * altered or reordered). Hashing runs in Node; Postgres compares each
 * record's columns with its hashed text on its own core.
 */
import type { SqlClient } from "../db/sql.ts";
import { chainHashOf, GENESIS_HASH } from "./record.ts";
import { COLUMNS } from "./table.ts";

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

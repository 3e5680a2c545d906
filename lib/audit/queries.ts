/**
 * Transport-free audit queries: plain functions the gateway routes.
 *
 * - `listAuditEvents` / `exportAuditEvents`: the hash-chained trail, filtered,
 *   paged by cursor or streamed as NDJSON with the chain proof.
 * - `planAsOf` / `executionAsOf`: an aggregate as it was at a time, replayed
 *   from JetStream and folded with the read-model projection's own fold.
 * - `explainChange`: intent → plan → policy → approvals → tool calls →
 *   verification → rollback, every item pointing at its event and evidence.
 * - `verifyAudit`: the chain's state and, on demand, every evidence blob's.
 *
 * There is deliberately no delete, purge or update here or anywhere in
 * lib/audit: the trail only grows.
 */
import type { AggregateType, AnyRecordedEvent } from "../../events/index.ts";
import { decodeCursor, encodeCursor } from "../db/cursor.ts";
import type { SqlClient } from "../db/sql.ts";
import { ValidationError } from "../errors/index.ts";
import type { EventStore } from "../eventstore/index.ts";
import type { EvidenceCheck, EvidenceStore } from "../evidence/index.ts";
import { canonicalize } from "./canonical.ts";
import { buildExplanation } from "./explain.ts";
import type { ChangeExplanation } from "./explanation.ts";
import type { AuditRecord } from "./record.ts";
import { type AuditRow, readHead, rowToRecord, SELECT_RECORD } from "./table.ts";
import { ChainChecker, type ChainRow, type ChainVerification, readChainPages, verifyAuditChain } from "./verify.ts";

/** Filters of the audit trail. Names follow the issue; the API's names (`since`, `until`, `actor_id`, `action`) are accepted too. */
export interface AuditFilters {
  /** Occurred at or after (ISO 8601). */
  readonly from?: string | undefined;
  /** Occurred before (ISO 8601, exclusive). */
  readonly to?: string | undefined;
  /** Actor id. */
  readonly actor?: string | undefined;
  readonly aggregate_type?: AggregateType | undefined;
  readonly aggregate_id?: string | undefined;
  /** Event type, e.g. `policy.decided`. */
  readonly type?: string | undefined;
  readonly correlation_id?: string | undefined;
  /** Infrastructure service: every record of every change that names it (matched across the correlation). */
  readonly service?: string | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly actor_id?: string | undefined;
  readonly action?: string | undefined;
}

export interface AuditListQuery extends AuditFilters {
  readonly cursor?: string | undefined;
  /** 1..1000, default 100. */
  readonly limit?: number | undefined;
}

/** One audit record as the API shows it (`AuditEventViewSchema`). */
export type AuditEventView = Omit<AuditRecord, "type" | "subject" | "actor_id" | "actor_kind"> & {
  readonly subject: string;
};

export interface AuditPage {
  readonly items: AuditEventView[];
  readonly next_cursor: string | null;
}

/** An aggregate's state at a moment, from its events up to then. */
export interface AsOf<S> {
  readonly aggregate_type: "plan" | "execution";
  readonly aggregate_id: string;
  readonly as_of: string;
  /** Stream sequence of the last event folded (0 when none). */
  readonly last_seq: number;
  readonly events: number;
  readonly state: S;
}

/** The folds the read-model projections use, so that as-of equals the read model by construction. */
export interface AsOfFolds<P = unknown, E = unknown> {
  readonly plan: (events: readonly AnyRecordedEvent[]) => P | null;
  readonly execution: (events: readonly AnyRecordedEvent[]) => E | null;
}

export interface AuditVerification {
  readonly chain: ChainVerification;
  /**
   * The chain's end against the events stream: a head behind the stream's
   * last sequence means the projector lags, or the newest records were removed.
   */
  readonly tail: { readonly audit_event_seq: number | null; readonly stream_last_seq: number; readonly behind: number };
  readonly evidence: {
    readonly checked: number;
    readonly failures: (Extract<EvidenceCheck, { ok: false }> & { audit_seq: number; event_id: string })[];
  } | null;
  readonly ok: boolean;
}

export interface AuditQueriesDeps<P = unknown, E = unknown> {
  readonly db: SqlClient;
  readonly eventStore: Pick<EventStore, "readAggregate" | "lastSeq">;
  readonly evidenceStore: EvidenceStore;
  readonly folds: AsOfFolds<P, E>;
  /** Rows per page when walking the table; default 5000. */
  readonly pageSize?: number | undefined;
}

export interface AuditQueries<P = unknown, E = unknown> {
  listAuditEvents(query?: AuditListQuery): Promise<AuditPage>;
  /**
   * `checkColumns` (default false): also have Postgres compare every column
   * with its hashed text while exporting. The lines are the hashed texts, so
   * the export proves what it contains either way; the column check is what
   * `verifyAudit` does, and costs the export about half its speed.
   */
  exportAuditEvents(filters?: AuditFilters, options?: { readonly checkColumns?: boolean }): AsyncIterable<string>;
  planAsOf(planId: string, time: string): Promise<AsOf<P> | null>;
  executionAsOf(executionId: string, time: string): Promise<AsOf<E> | null>;
  explainChange(id: string, options?: { readonly verifyEvidence?: boolean }): Promise<ChangeExplanation | null>;
  verifyAudit(options?: { readonly evidence?: boolean }): Promise<AuditVerification>;
}

export function createAuditQueries<P, E>(deps: AuditQueriesDeps<P, E>): AuditQueries<P, E> {
  const { db, eventStore, evidenceStore, folds } = deps;
  const pageSize = deps.pageSize ?? 5000;

  async function asOf<S>(
    type: "plan" | "execution",
    id: string,
    time: string,
    fold: (events: readonly AnyRecordedEvent[]) => S | null,
  ): Promise<AsOf<S> | null> {
    const at = parseTime(time, "time");
    const events = await eventStore.readAggregate(type, id, { upTo: { time: at } });
    if (events.length === 0) return null;
    const state = fold(events);
    if (state === null) return null;
    return {
      aggregate_type: type,
      aggregate_id: id,
      as_of: at,
      last_seq: (events[events.length - 1] as AnyRecordedEvent).seq,
      events: events.length,
      state,
    };
  }

  return {
    async listAuditEvents(query = {}) {
      const limit = query.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new ValidationError(`limit must be an integer from 1 to 1000, got ${limit}`, {
          field: "limit",
          fix: "ask for at most 1000 records per page and follow next_cursor",
        });
      }
      const where = whereClause(query);
      const afterSeq = decodeCursor(query.cursor, ["number"])?.[0] ?? 0;
      const values = [...where.values, afterSeq, limit + 1];
      const { rows } = await db.query<AuditRow>(
        `SELECT ${SELECT_RECORD} FROM audit_events WHERE ${where.sql} AND seq > $${values.length - 1}
         ORDER BY seq LIMIT $${values.length}`,
        values,
      );
      const page = rows.slice(0, limit).map((r) => toView(rowToRecord(r)));
      const last = page[page.length - 1];
      return { items: page, next_cursor: rows.length > limit && last ? encodeCursor([last.seq]) : null };
    },

    exportAuditEvents(filters = {}, options = {}) {
      return exportLines(db, filters, pageSize, options.checkColumns ?? false);
    },

    planAsOf(planId, time) {
      return asOf("plan", planId, time, folds.plan);
    },

    executionAsOf(executionId, time) {
      return asOf("execution", executionId, time, folds.execution);
    },

    async explainChange(id, options = {}) {
      let planId: string | null = null;
      let executionEvents: AnyRecordedEvent[][] = [];
      const planEvents = await eventStore.readAggregate("plan", id);
      if (planEvents.length > 0) {
        planId = id;
      } else {
        const own = await eventStore.readAggregate("execution", id);
        if (own.length === 0) return null;
        const requested = own.find((e) => e.type === "execution.requested");
        planId = requested?.type === "execution.requested" ? requested.payload.plan_id : null;
        executionEvents = [own];
      }
      const plan = planId === null ? [] : planId === id ? planEvents : await eventStore.readAggregate("plan", planId);
      if (planId !== null && executionEvents.length === 0) {
        const { rows } = await db.query<{ aggregate_id: string }>(
          `SELECT aggregate_id FROM audit_events
           WHERE aggregate_type = 'execution' AND action = 'execution.requested' AND payload ->> 'plan_id' = $1
           ORDER BY seq`,
          [planId],
        );
        executionEvents = await Promise.all(rows.map((r) => eventStore.readAggregate("execution", r.aggregate_id)));
      }
      const all = [...plan, ...executionEvents.flat()];
      const audit = await db.query<{ event_id: string; seq: string; hash: string }>(
        "SELECT event_id, seq, hash FROM audit_events WHERE event_id = ANY($1::text[])",
        [all.map((e) => e.id)],
      );
      const auditByEvent = new Map(audit.rows.map((r) => [r.event_id, { seq: Number(r.seq), hash: r.hash }]));
      return buildExplanation({
        requestedId: id,
        planId,
        planEvents: plan,
        executions: executionEvents,
        auditByEvent,
        evidenceStore,
        verifyEvidence: options.verifyEvidence ?? false,
      });
    },

    async verifyAudit(options = {}) {
      const chain = await verifyAuditChain(db, { pageSize });
      const streamLast = await eventStore.lastSeq();
      const { rows } = await db.query<{ event_seq: string | null }>(
        "SELECT max(event_seq) AS event_seq FROM audit_events",
      );
      const auditSeq = rows[0]?.event_seq == null ? null : Number(rows[0].event_seq);
      const tail = { audit_event_seq: auditSeq, stream_last_seq: streamLast, behind: streamLast - (auditSeq ?? 0) };
      const evidence = options.evidence ? await checkAllEvidence(db, evidenceStore, pageSize) : null;
      return {
        chain,
        tail,
        evidence,
        ok: chain.ok && (evidence === null || evidence.failures.length === 0),
      };
    },
  };
}

function toView(record: AuditRecord): AuditEventView {
  const { type: _t, actor_id: _a, actor_kind: _k, ...view } = record;
  return view;
}

interface Where {
  readonly sql: string;
  readonly values: unknown[];
  readonly empty: boolean;
}

/** `firstParam`: the number of the first placeholder (parameters before it belong to the caller). */
function whereClause(f: AuditFilters, firstParam = 1): Where {
  const clauses: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    clauses.push(sql.replace("?", `$${values.length + firstParam - 1}`));
  };
  const from = f.from ?? f.since;
  const to = f.to ?? f.until;
  if (from !== undefined) add("occurred_at >= ?", parseTime(from, f.from !== undefined ? "from" : "since"));
  if (to !== undefined) add("occurred_at < ?", parseTime(to, f.to !== undefined ? "to" : "until"));
  const actor = f.actor ?? f.actor_id;
  if (actor !== undefined) add("actor_id = ?", actor);
  if (f.aggregate_type !== undefined) add("aggregate_type = ?", f.aggregate_type);
  if (f.aggregate_id !== undefined) add("aggregate_id = ?", f.aggregate_id);
  const type = f.type ?? f.action;
  if (type !== undefined) add("action = ?", type);
  if (f.correlation_id !== undefined) add("correlation_id = ?", f.correlation_id);
  if (f.service !== undefined) {
    add("correlation_id IN (SELECT correlation_id FROM audit_events WHERE service = ?)", f.service);
  }
  return { sql: clauses.length ? clauses.join(" AND ") : "TRUE", values, empty: clauses.length === 0 };
}

function parseTime(value: string, field: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    throw new ValidationError(`${field} is not an ISO 8601 timestamp: ${JSON.stringify(value)}`, {
      field,
      fix: "pass a timestamp such as 2026-01-31T12:00:00Z",
    });
  }
  return new Date(ms).toISOString();
}

/**
 * NDJSON export: one line per record, `{"hash","kind":"audit_record",
 * "prev_hash","record","seq"}` where `record` is the hashed body (the
 * stored canonical text, whose agreement with the columns the walk checks), so that
 * `hash = sha256(prev_hash + JCS(record))` can be checked without Wheelhouse;
 * then one `kind: "chain_proof"` line with the
 * chain head and the verification state. Lines are RFC 8785 canonical JSON.
 * Unfiltered, the chain is verified in the same pass; filtered, the matching
 * records are streamed and the whole chain is verified afterwards.
 */
async function* exportLines(
  db: SqlClient,
  filters: AuditFilters,
  pageSize: number,
  checkColumns: boolean,
): AsyncGenerator<string> {
  const where = whereClause(filters, 3);
  let exported = 0;
  // Canonical JSON built by hand (keys in RFC 8785 order) around the stored canonical record text.
  const line = (r: ChainRow) =>
    `{"hash":"${r.hash}","kind":"audit_record","prev_hash":"${r.prev_hash}","record":${r.record || "null"},"seq":${r.seq}}\n`;
  // One pass when unfiltered: every record is exported and checked (after a failure: exported, unchecked).
  const checker = where.empty ? new ChainChecker(db, null) : null;
  for await (const page of readChainPages(db, {
    pageSize,
    where: where.empty ? undefined : where,
    checkColumns: checker !== null && checkColumns,
  })) {
    let chunk = "";
    for (const row of page) {
      if (checker) await checker.check(row);
      chunk += line(row);
    }
    exported += page.length;
    yield chunk;
  }
  const verification: ChainVerification = checker
    ? checker.result()
    : await verifyAuditChain(db, { pageSize, checkColumns });
  const head = await readHead(db);
  yield `${canonicalize({
    kind: "chain_proof",
    head_seq: head?.seq ?? 0,
    head_hash: head?.hash ?? null,
    verified: verification.ok,
    columns_checked: checkColumns,
    checked: verification.checked,
    failure: verification.failure,
    exported,
    filters: JSON.parse(JSON.stringify(filters)),
  })}\n`;
}

/** Checks every blob an `evidence.stored` record names against the digest the (chained) record holds. */
async function checkAllEvidence(db: SqlClient, store: EvidenceStore, pageSize: number) {
  const failures: (Extract<EvidenceCheck, { ok: false }> & { audit_seq: number; event_id: string })[] = [];
  let checked = 0;
  let after = 0;
  for (;;) {
    const { rows } = await db.query<{
      seq: string;
      event_id: string;
      payload: { evidence_id: string; uri: string; sha256: string };
    }>(
      `SELECT seq, event_id, payload FROM audit_events WHERE action = 'evidence.stored' AND seq > $1 ORDER BY seq LIMIT $2`,
      [after, pageSize],
    );
    // A few reads at a time: enough to hide object-store latency without flooding it.
    for (let i = 0; i < rows.length; i += 8) {
      const slice = rows.slice(i, i + 8);
      const checks = await Promise.all(
        slice.map((r) =>
          store.verifyEvidence({ evidence_id: r.payload.evidence_id, uri: r.payload.uri, sha256: r.payload.sha256 }),
        ),
      );
      checks.forEach((check, j) => {
        const row = slice[j] as (typeof rows)[number];
        if (!check.ok) failures.push({ ...check, audit_seq: Number(row.seq), event_id: row.event_id });
      });
      checked += slice.length;
    }
    if (rows.length < pageSize) break;
    after = Number((rows[rows.length - 1] as (typeof rows)[number]).seq);
  }
  return { checked, failures };
}

/**
 * Postgres read models: a slonik pool bound to one schema (search_path), the
 * migrations applied on start, and the read models' queries.
 *
 * ```ts
 * const db = await createDb({ url, schema: "public" });
 * const plan = await db.getPlan(planId);        // null when there is none
 * const page = await db.listPlans({ status: "pending_approval", limit: 20 });
 * await db.close();
 * ```
 *
 * Writes belong to the projector (`projections/`), which calls the upserts
 * inside its own transaction; they are exposed here for it and for tests.
 */
import pg from "pg";
import { createPool, type DatabasePool, type DatabaseTransactionConnection, parseDsn, stringifyDsn } from "slonik";
import { type ContextService, listContextServices } from "../../projections/context/index.ts";
import { insertEvidence } from "../../projections/evidence/index.ts";
import {
  type ExecutionDetail,
  getExecution,
  type ListExecutionsQuery,
  listExecutions,
  upsertExecutions,
  upsertToolCalls,
} from "../../projections/executions/index.ts";
import {
  getPlan,
  type ListPlansQuery,
  listPlans,
  type PlanDetail,
  upsertApprovals,
  upsertPlans,
} from "../../projections/plans/index.ts";
import type { Logger } from "../log/index.ts";
import { assertSchemaName, migrate } from "./migrate.ts";
import type { Queryable } from "./sql.ts";
import { sql } from "./sql.ts";
import type { ApprovalRow, DeadLetterRow, EvidenceRow, ExecutionRow, Page, PlanRow, ToolCallRow } from "./types.ts";

export type { ContextService } from "../../projections/context/index.ts";
export type { ExecutionDetail, ListExecutionsQuery } from "../../projections/executions/index.ts";
export type { ListPlansQuery, PlanDetail } from "../../projections/plans/index.ts";
export { loadMigrations, migrate } from "./migrate.ts";
export type { Queryable, SqlClient, Statement, TableSpec } from "./sql.ts";
export { decodeCursor, encodeCursor, sql, upsertRows, upsertStatement } from "./sql.ts";
export type * from "./types.ts";

export interface DbOptions {
  /** postgres://user@host:port/database */
  readonly url: string;
  /** Schema holding the read models (tests use their own). */
  readonly schema: string;
  /** Apply pending migrations before returning; default true. */
  readonly migrate?: boolean | undefined;
  readonly maxPoolSize?: number | undefined;
  readonly logger?: Logger | undefined;
}

export interface Db {
  readonly pool: DatabasePool;
  readonly schema: string;
  transaction<T>(fn: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * A dedicated node-postgres connection on the same schema, outside the
   * pool, for a hot path that runs its own transactions (the projector).
   * The caller ends it. Bigint and timestamp columns come back as pg's
   * defaults (strings), not as the read-model types.
   */
  connectClient(applicationName?: string): Promise<pg.Client>;

  getPlan(planId: string): Promise<PlanDetail | null>;
  listPlans(query?: ListPlansQuery): Promise<Page<PlanRow>>;
  getExecution(executionId: string): Promise<ExecutionDetail | null>;
  listExecutions(query?: ListExecutionsQuery): Promise<Page<ExecutionRow>>;
  listContextServices(): Promise<ContextService[]>;
  listDeadLetters(consumer?: string): Promise<DeadLetterRow[]>;

  // Write side: projections only. Each takes rows (one statement for all of them) and an optional transaction.
  createPlan(rows: readonly PlanRow[], tx?: Queryable): Promise<void>;
  createExecution(rows: readonly ExecutionRow[], tx?: Queryable): Promise<void>;
  updateExecutionStatus(rows: readonly ExecutionRow[], tx?: Queryable): Promise<void>;
  insertToolCall(rows: readonly ToolCallRow[], tx?: Queryable): Promise<void>;
  insertEvidence(rows: readonly EvidenceRow[], tx?: Queryable): Promise<void>;
  // No audit writer here: audit records are only appended to the hash chain, by lib/audit (appendAuditEvents).
  createApproval(rows: readonly ApprovalRow[], tx?: Queryable): Promise<void>;
  updateApprovalStatus(rows: readonly ApprovalRow[], tx?: Queryable): Promise<void>;
}

/** Parses what pg sends as text into what the read-model types promise. */
const typeParsers = [
  { name: "int8", parse: (v: string) => Number(v) },
  { name: "numeric", parse: (v: string) => Number(v) },
  { name: "timestamptz", parse: (v: string) => new Date(v).toISOString() },
  { name: "timestamp", parse: (v: string) => new Date(`${v}Z`).toISOString() },
  { name: "json", parse: (v: string) => JSON.parse(v) as unknown },
  { name: "jsonb", parse: (v: string) => JSON.parse(v) as unknown },
];

/** The DSN with `search_path` pinned to the schema for every pooled connection. */
export function schemaDsn(url: string, schema: string): string {
  assertSchemaName(schema);
  const dsn = parseDsn(url);
  return stringifyDsn({ ...dsn, options: `-c search_path=${schema} -c timezone=UTC` });
}

export async function createDb(opts: DbOptions): Promise<Db> {
  assertSchemaName(opts.schema);
  if (opts.migrate !== false) await migrate({ url: opts.url, schema: opts.schema, logger: opts.logger });
  const pool = await createPool(schemaDsn(opts.url, opts.schema), {
    typeParsers,
    maximumPoolSize: opts.maxPoolSize ?? 10,
    captureStackTrace: false,
    statementTimeout: 60_000,
    idleInTransactionSessionTimeout: 60_000,
  });
  const on = (tx?: Queryable): Queryable => tx ?? pool;
  return {
    pool,
    schema: opts.schema,
    transaction: (fn) => pool.transaction(fn),
    close: () => pool.end(),
    async connectClient(applicationName = "wheelhouse") {
      const client = new pg.Client({
        connectionString: opts.url,
        application_name: applicationName,
        options: `-c search_path=${opts.schema} -c timezone=UTC -c statement_timeout=60000 -c idle_in_transaction_session_timeout=60000`,
      });
      await client.connect();
      return client;
    },
    getPlan: (planId) => getPlan(pool, planId),
    listPlans: (q) => listPlans(pool, q),
    getExecution: (id) => getExecution(pool, id),
    listExecutions: (q) => listExecutions(pool, q),
    listContextServices: () => listContextServices(pool),
    async listDeadLetters(consumer) {
      return (await pool.any(
        consumer === undefined
          ? sql.unsafe`SELECT * FROM dead_letters ORDER BY id`
          : sql.unsafe`SELECT * FROM dead_letters WHERE consumer = ${consumer} ORDER BY id`,
      )) as unknown as DeadLetterRow[];
    },
    createPlan: (rows, tx) => upsertPlans(on(tx), rows),
    createExecution: (rows, tx) => upsertExecutions(on(tx), rows),
    updateExecutionStatus: (rows, tx) => upsertExecutions(on(tx), rows),
    insertToolCall: (rows, tx) => upsertToolCalls(on(tx), rows),
    insertEvidence: (rows, tx) => insertEvidence(on(tx), rows),
    createApproval: (rows, tx) => upsertApprovals(on(tx), rows),
    updateApprovalStatus: (rows, tx) => upsertApprovals(on(tx), rows),
  };
}

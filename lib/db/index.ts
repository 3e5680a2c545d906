/**
 * Postgres: a slonik pool bound to one schema (search_path), the migrations
 * applied on start, transactions, and the SQL helpers every table's code
 * uses (upserts, the one `SqlClient`, page cursors and limits). The read
 * models' rows and queries live with their projections
 * (`projections/queries.ts`), the audit chain's in lib/audit.
 *
 * ```ts
 * const db = await createDb({ url, schema: "public" });
 * const plans = createReadModelQueries(db.pool);   // projections/queries.ts
 * await db.transaction(async (tx) => { ... });
 * await db.close();
 * ```
 */
import pg from "pg";
import { createPool, type DatabasePool, type DatabaseTransactionConnection, parseDsn, stringifyDsn } from "slonik";
import type { Logger } from "../log/index.ts";
import { assertSchemaName, migrate } from "./migrate.ts";

export type { CursorKey, CursorPart, DecodedCursor } from "./cursor.ts";
export { decodeCursor, encodeCursor } from "./cursor.ts";
export { loadMigrations, migrate } from "./migrate.ts";
export type { ColumnType, Page, Queryable, SqlClient, Statement, TableSpec } from "./sql.ts";
export { clampLimit, slonikSqlClient, sql, upsertRows, upsertStatement } from "./sql.ts";

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
  };
}

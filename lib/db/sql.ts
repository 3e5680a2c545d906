/**
 * Small SQL helpers over slonik and node-postgres: multi-row upserts
 * (through `unnest`, or one json parameter), the one `SqlClient` interface
 * and its slonik adapter, page limits. Table and column names here come
 * from code, never from input.
 */
import { type CommonQueryMethods, type FragmentSqlToken, sql } from "slonik";
import { ValidationError } from "../errors/index.ts";

export { sql };
/** A slonik pool, connection or transaction. */
export type Queryable = CommonQueryMethods;

/** Column type names as Postgres knows them; jsonb values are passed as JSON text. */
export type ColumnType = "text" | "int4" | "int8" | "bool" | "jsonb" | "timestamptz" | "float8";

export interface TableSpec<Row> {
  readonly table: string;
  readonly key: readonly (keyof Row & string)[];
  readonly columns: Readonly<Record<keyof Row & string, ColumnType>>;
}

function toParam(value: unknown, type: ColumnType): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (type === "jsonb") return JSON.stringify(value);
  return value as string | number | boolean;
}

/**
 * `INSERT ... SELECT * FROM unnest(...) ON CONFLICT (key) DO UPDATE SET every
 * other column` (or `DO NOTHING`). Rows must have distinct keys.
 */
export async function upsertRows<Row>(
  db: Queryable,
  spec: TableSpec<Row>,
  rows: readonly Row[],
  onConflict: "update" | "nothing" = "update",
): Promise<void> {
  if (rows.length === 0) return;
  const names = Object.keys(spec.columns) as (keyof Row & string)[];
  const types = names.map((n) => spec.columns[n]);
  const tuples = rows.map((r) => names.map((n, i) => toParam(r[n], types[i] as ColumnType)));
  const cols = sql.join(
    names.map((n) => sql.identifier([n])),
    sql.fragment`, `,
  );
  const key = sql.join(
    spec.key.map((n) => sql.identifier([n])),
    sql.fragment`, `,
  );
  const rest = names.filter((n) => !spec.key.includes(n));
  const action: FragmentSqlToken =
    onConflict === "nothing" || rest.length === 0
      ? sql.fragment`DO NOTHING`
      : sql.fragment`DO UPDATE SET ${sql.join(
          rest.map((n) => sql.fragment`${sql.identifier([n])} = EXCLUDED.${sql.identifier([n])}`),
          sql.fragment`, `,
        )}`;
  await db.query(
    sql.unsafe`INSERT INTO ${sql.identifier([spec.table])} (${cols})
      SELECT * FROM ${sql.unnest(tuples, types)}
      ON CONFLICT (${key}) ${action}`,
  );
}

/** One SQL statement in node-postgres form (positional parameters), for a `SqlClient`. */
export interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

/**
 * The smallest node-postgres interface (`Client`, `PoolClient`, `Pool`):
 * positional-parameter text in, rows out. The projector's hot path, the
 * audit chain and plain checks run on it; `slonikSqlClient` gives one over
 * a slonik pool or transaction.
 */
export interface SqlClient {
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

const template = sql.unsafe`SELECT 1`;

/**
 * `SqlClient` over a slonik connection or transaction: the text is wrapped
 * in a query token of slonik's own shape (the one `sql.unsafe` produces: no
 * result validation), so code written for node-postgres runs inside a
 * slonik transaction too.
 */
export function slonikSqlClient(conn: Queryable): SqlClient {
  return {
    async query<R extends object>(text: string, values: unknown[] = []) {
      const token = { ...template, sql: text, values } as unknown as typeof template;
      const result = await conn.query(token);
      return { rows: result.rows as unknown as R[] };
    },
  };
}

const upsertTexts = new WeakMap<object, Map<string, string>>();

/**
 * The statement `upsertRows` runs, as text for a node-postgres client: all
 * rows travel as ONE json parameter (a single `JSON.stringify`, no per-value
 * array escaping in JavaScript) and Postgres types them against the table's
 * own row type (`json_populate_recordset`). Keys of a row that are not
 * columns are ignored; a missing key or a JSON null is SQL NULL, as in
 * `upsertRows`. Rows must have distinct keys. Null when there are no rows.
 */
export function upsertStatement<Row>(
  spec: TableSpec<Row>,
  rows: readonly Row[],
  onConflict: "update" | "nothing" = "update",
): Statement | null {
  if (rows.length === 0) return null;
  let texts = upsertTexts.get(spec);
  if (!texts) {
    texts = new Map();
    upsertTexts.set(spec, texts);
  }
  let text = texts.get(onConflict);
  if (text === undefined) {
    const names = Object.keys(spec.columns).map(quoteIdent);
    const rest = Object.keys(spec.columns)
      .filter((n) => !spec.key.includes(n as keyof Row & string))
      .map(quoteIdent);
    const action =
      onConflict === "nothing" || rest.length === 0
        ? "DO NOTHING"
        : `DO UPDATE SET ${rest.map((n) => `${n} = EXCLUDED.${n}`).join(", ")}`;
    const table = quoteIdent(spec.table);
    text = `INSERT INTO ${table} (${names.join(", ")})
      SELECT ${names.join(", ")} FROM json_populate_recordset(NULL::${table}, $1::json)
      ON CONFLICT (${spec.key.map(quoteIdent).join(", ")}) ${action}`;
    texts.set(onConflict, text);
  }
  return { text, values: [JSON.stringify(rows)] };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function clampLimit(limit: number | undefined, fallback = 50, max = 200): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new ValidationError(`limit must be an integer from 1 to ${max}`, { field: "limit", fix: `pass 1..${max}` });
  }
  return limit;
}

/** One page of a list, newest first; pass `next_cursor` back as `cursor` for the next page. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * Small SQL helpers over slonik: multi-row upserts through `unnest`, keyset
 * cursors. Table and column names here come from code, never from input.
 */
import { type CommonQueryMethods, type FragmentSqlToken, sql } from "slonik";
import { ValidationError } from "../errors/index.ts";

export { sql };
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

export interface Cursor {
  readonly at: string;
  readonly id: string;
}

export function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined): Cursor | null {
  if (cursor === null || cursor === undefined || cursor === "") return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && typeof v[0] === "string" && typeof v[1] === "string" && !Number.isNaN(Date.parse(v[0]))) {
      return { at: v[0], id: v[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new ValidationError("cursor is not valid", {
    field: "cursor",
    fix: "pass the next_cursor value of the previous page unchanged",
  });
}

export function clampLimit(limit: number | undefined, fallback = 50, max = 200): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new ValidationError(`limit must be an integer from 1 to ${max}`, { field: "limit", fix: `pass 1..${max}` });
  }
  return limit;
}

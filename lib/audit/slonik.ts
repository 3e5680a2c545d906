/**
 * `SqlClient` over a slonik connection or transaction, so the audit
 * projection can run `appendAuditEvents` inside the projector's slonik
 * transaction. lib/audit keeps its SQL as positional-parameter text (one
 * `unnest` insert, a keyset walk), which slonik's tagged templates would
 * only obscure; the adapter wraps that text in a query token of slonik's
 * own shape (the one `sql.unsafe` produces: no result validation).
 */
import { type CommonQueryMethods, sql } from "slonik";
import type { SqlClient } from "./store.ts";

const template = sql.unsafe`SELECT 1`;

export function slonikSqlClient(conn: CommonQueryMethods): SqlClient {
  return {
    async query<R extends object>(text: string, values: unknown[] = []) {
      const token = { ...template, sql: text, values } as unknown as typeof template;
      const result = await conn.query(token);
      return { rows: result.rows as unknown as R[] };
    },
  };
}

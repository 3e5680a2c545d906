/** Read queries on the executions read model. */
import { decodeCursor, encodeCursor } from "../../lib/db/cursor.ts";
import { clampLimit, type Page, type Queryable, sql } from "../../lib/db/sql.ts";
import type { ExecutionRow, ExecutionViewStatus, ToolCallRow } from "./rows.ts";

export interface ExecutionDetail extends ExecutionRow {
  tool_calls: ToolCallRow[];
}

export async function getExecution(db: Queryable, executionId: string): Promise<ExecutionDetail | null> {
  const ex = (await db.maybeOne(
    sql.unsafe`SELECT * FROM executions WHERE execution_id = ${executionId}`,
  )) as ExecutionRow | null;
  if (ex === null) return null;
  const calls = await db.any(
    sql.unsafe`SELECT * FROM tool_calls WHERE execution_id = ${executionId} ORDER BY started_at NULLS LAST, tool_call_id`,
  );
  return { ...ex, tool_calls: calls as unknown as ToolCallRow[] };
}

export interface ListExecutionsQuery {
  readonly planId?: string | undefined;
  readonly status?: ExecutionViewStatus | undefined;
  readonly limit?: number | undefined;
  readonly cursor?: string | null | undefined;
}

/** Newest first, keyset-paginated on (created_at, execution_id). */
export async function listExecutions(db: Queryable, q: ListExecutionsQuery = {}): Promise<Page<ExecutionRow>> {
  const limit = clampLimit(q.limit);
  const cursor = decodeCursor(q.cursor, ["timestamp", "string"]);
  const where = [
    q.planId === undefined ? null : sql.fragment`plan_id = ${q.planId}`,
    q.status === undefined ? null : sql.fragment`status = ${q.status}`,
    cursor === null ? null : sql.fragment`(created_at, execution_id) < (${cursor[0]}::timestamptz, ${cursor[1]})`,
  ].filter((f) => f !== null);
  const rows = (await db.any(
    sql.unsafe`SELECT * FROM executions
      ${where.length > 0 ? sql.fragment`WHERE ${sql.join(where, sql.fragment` AND `)}` : sql.fragment``}
      ORDER BY created_at DESC, execution_id DESC LIMIT ${limit + 1}`,
  )) as unknown as ExecutionRow[];
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items,
    next_cursor: rows.length > limit && last ? encodeCursor([last.created_at, last.execution_id]) : null,
  };
}

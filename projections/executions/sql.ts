import { type Queryable, type SqlClient, sql, type TableSpec, upsertRows, upsertStatement } from "../../lib/db/sql.ts";
import { createViewWriter, type ProjectionWriter } from "../types.ts";
import { type ExecutionView, foldExecutionView } from "./fold.ts";
import { measurementStatement } from "./measurements.ts";
import type { ExecutionRow, ToolCallRow } from "./rows.ts";

export const executionsTable: TableSpec<ExecutionRow> = {
  table: "executions",
  key: ["execution_id"],
  columns: {
    execution_id: "text",
    plan_id: "text",
    revision: "int4",
    status: "text",
    dry_run: "bool",
    workflow_id: "text",
    run_id: "text",
    reason: "text",
    steps: "jsonb",
    verification: "jsonb",
    actor_id: "text",
    correlation_id: "text",
    created_at: "timestamptz",
    started_at: "timestamptz",
    finished_at: "timestamptz",
    updated_at: "timestamptz",
    last_seq: "int8",
  },
};

export const toolCallsTable: TableSpec<ToolCallRow> = {
  table: "tool_calls",
  key: ["tool_call_id"],
  columns: {
    tool_call_id: "text",
    execution_id: "text",
    step_id: "text",
    action_id: "text",
    binary_name: "text",
    argv: "jsonb",
    via: "text",
    dry_run: "bool",
    status: "text",
    exit_code: "int4",
    duration_ms: "float8",
    truncated: "bool",
    stdout_sha256: "text",
    stderr_sha256: "text",
    evidence_id: "text",
    error: "text",
    started_at: "timestamptz",
    completed_at: "timestamptz",
    last_seq: "int8",
  },
};

/** Upserts executions (design names `createExecution`, `updateExecutionStatus`). */
export const upsertExecutions = (db: Queryable, rows: readonly ExecutionRow[]) => upsertRows(db, executionsTable, rows);
/** Upserts tool calls (design name `insertToolCall`). */
export const upsertToolCalls = (db: Queryable, rows: readonly ToolCallRow[]) => upsertRows(db, toolCallsTable, rows);

export async function loadExecutionViews(db: Queryable, ids: readonly string[]): Promise<Map<string, ExecutionView>> {
  const out = new Map<string, ExecutionView>();
  if (ids.length === 0) return out;
  const arr = sql.array(ids, "text");
  const [executions, calls] = await Promise.all([
    db.any(sql.unsafe`SELECT * FROM executions WHERE execution_id = ANY(${arr})`),
    db.any(sql.unsafe`SELECT * FROM tool_calls WHERE execution_id = ANY(${arr})`),
  ]);
  const callsBy = new Map<string, Record<string, ToolCallRow>>();
  for (const c of calls as unknown as ToolCallRow[]) {
    const m = callsBy.get(c.execution_id) ?? {};
    m[c.tool_call_id] = c;
    callsBy.set(c.execution_id, m);
  }
  for (const e of executions as unknown as ExecutionRow[]) {
    out.set(e.execution_id, { execution: e, toolCalls: callsBy.get(e.execution_id) ?? {} });
  }
  // Tool calls recorded before their execution row (should not happen, but a rebuild must not lose them).
  for (const [id, toolCalls] of callsBy) {
    if (!out.has(id)) out.set(id, { execution: undefined as unknown as ExecutionRow, toolCalls });
  }
  return out;
}

export async function saveExecutionViews(db: Queryable, views: Iterable<ExecutionView>): Promise<void> {
  const executions: ExecutionRow[] = [];
  const calls: ToolCallRow[] = [];
  for (const v of views) {
    if (v.execution) executions.push(v.execution);
    calls.push(...Object.values(v.toolCalls));
  }
  await upsertExecutions(db, executions);
  await upsertToolCalls(db, calls);
}

const LOAD_SQL = `SELECT
  (SELECT coalesce(json_agg(e), '[]') FROM executions e WHERE execution_id = ANY($1::text[])) AS executions,
  (SELECT coalesce(json_agg(c), '[]') FROM tool_calls c WHERE execution_id = ANY($1::text[])) AS calls`;

/** Execution views of `ids` in one query (ids with nothing recorded are absent). */
export async function loadExecutionViewsJson(
  db: SqlClient,
  ids: readonly string[],
): Promise<Map<string, ExecutionView>> {
  const out = new Map<string, ExecutionView>();
  if (ids.length === 0) return out;
  const { rows } = await db.query<{ executions: ExecutionRow[]; calls: ToolCallRow[] }>(LOAD_SQL, [ids]);
  const row = rows[0];
  if (!row) return out;
  for (const e of row.executions) out.set(e.execution_id, { execution: e, toolCalls: {} });
  for (const c of row.calls) {
    let v = out.get(c.execution_id);
    // Tool calls recorded before their execution row (should not happen, but a rebuild must not lose them).
    if (!v) {
      v = { execution: undefined as unknown as ExecutionRow, toolCalls: {} };
      out.set(c.execution_id, v);
    }
    (v.toolCalls as Record<string, ToolCallRow>)[c.tool_call_id] = c;
  }
  return out;
}

/**
 * The executions writer: views kept in memory between batches, loaded only
 * on first sight, folded per aggregate with `foldExecutionView`, saved as one
 * upsert per table with only the rows that changed (a long execution does
 * not rewrite all its tool calls every batch); the batch's measurements are
 * inserted as they come (measurements.ts), nothing of them held in memory.
 */
export function createExecutionsWriter(maxViews?: number): ProjectionWriter {
  const views = createViewsWriter(maxViews);
  return {
    reset: () => views.reset(),
    async prepare(db, events, unprojected) {
      const statements = await views.prepare(db, events, unprojected);
      const measurements = measurementStatement(events);
      return measurements ? [...statements, measurements] : statements;
    },
  };
}

function createViewsWriter(maxViews?: number): ProjectionWriter {
  return createViewWriter<ExecutionView>({
    tables: ["executions", "tool_calls"],
    maxViews,
    load: loadExecutionViewsJson,
    fold: foldExecutionView,
    save(changed) {
      const executions: ExecutionRow[] = [];
      const calls: ToolCallRow[] = [];
      for (const { prev, next } of changed) {
        if (next.execution && next.execution !== prev?.execution) executions.push(next.execution);
        if (next.toolCalls !== prev?.toolCalls) {
          for (const [k, row] of Object.entries(next.toolCalls)) if (prev?.toolCalls[k] !== row) calls.push(row);
        }
      }
      return [upsertStatement(executionsTable, executions), upsertStatement(toolCallsTable, calls)];
    },
  });
}

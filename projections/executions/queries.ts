/** Read queries on the executions read model. */
import { decodeCursor, encodeCursor } from "../../lib/db/cursor.ts";
import { clampLimit, type Page, type Queryable, sql } from "../../lib/db/sql.ts";
import type { ExecutionRow, ExecutionViewStatus, MeasurementRow, ToolCallRow } from "./rows.ts";

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
  /** Who asked: the actor id that requested the execution. */
  readonly requester?: string | undefined;
  /** Created at or after (ISO 8601). */
  readonly from?: string | undefined;
  /** Created before (ISO 8601, exclusive). */
  readonly to?: string | undefined;
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
    q.requester === undefined ? null : sql.fragment`actor_id = ${q.requester}`,
    q.from === undefined ? null : sql.fragment`created_at >= ${q.from}::timestamptz`,
    q.to === undefined ? null : sql.fragment`created_at < ${q.to}::timestamptz`,
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

/** What an execution's steps were asked to verify: each step's input and verification spec. */
export interface VerifiedStep {
  step_id: string;
  action_id: string;
  input: unknown;
  verification: unknown;
}

export interface ExecutionMeasurements {
  execution_id: string;
  plan_id: string | null;
  revision: number | null;
  /** Every measurement, per step in measuring order. */
  measurements: MeasurementRow[];
  /** The steps of the revision that ran (plans read model), in plan order. */
  steps: VerifiedStep[];
}

/**
 * An execution's verification measurements with the steps of the revision it ran (their input and
 * verification spec, from the plans read model: what the measurements are judged against). Null
 * when there is no such execution.
 */
export async function getExecutionMeasurements(
  db: Queryable,
  executionId: string,
): Promise<ExecutionMeasurements | null> {
  const ex = (await db.maybeOne(
    sql.unsafe`SELECT execution_id, plan_id, revision FROM executions WHERE execution_id = ${executionId}`,
  )) as Pick<ExecutionRow, "execution_id" | "plan_id" | "revision"> | null;
  if (ex === null) return null;
  const [measurements, steps] = await Promise.all([
    db.any(
      sql.unsafe`SELECT * FROM execution_measurements WHERE execution_id = ${executionId}
                 ORDER BY step_id, measured_at, attempt, measurement_id`,
    ),
    ex.plan_id === null || ex.revision === null
      ? Promise.resolve([])
      : db.any(
          sql.unsafe`SELECT step_id, action_id, input, verification FROM plan_steps
                     WHERE plan_id = ${ex.plan_id} AND revision = ${ex.revision} ORDER BY position`,
        ),
  ]);
  return {
    ...ex,
    measurements: measurements as unknown as MeasurementRow[],
    steps: steps as unknown as VerifiedStep[],
  };
}

/** Read queries on the plans read model. */
import { decodeCursor, encodeCursor } from "../../lib/db/cursor.ts";
import { clampLimit, type Page, type Queryable, sql } from "../../lib/db/sql.ts";
import type { ApprovalRow, PlanRow, PlanStepRow, PlanViewStatus } from "./rows.ts";

export interface PlanDetail extends PlanRow {
  /** Steps of the current revision, in plan order. */
  steps: PlanStepRow[];
  approvals: ApprovalRow[];
}

export async function getPlan(db: Queryable, planId: string): Promise<PlanDetail | null> {
  const plan = (await db.maybeOne(sql.unsafe`SELECT * FROM plans WHERE plan_id = ${planId}`)) as PlanRow | null;
  if (plan === null) return null;
  const [steps, approvals] = await Promise.all([
    db.any(
      sql.unsafe`SELECT * FROM plan_steps WHERE plan_id = ${planId} AND revision = ${plan.revision ?? 0}
                 ORDER BY position`,
    ),
    db.any(sql.unsafe`SELECT * FROM approvals WHERE plan_id = ${planId} ORDER BY requested_at, approval_id`),
  ]);
  return { ...plan, steps: steps as unknown as PlanStepRow[], approvals: approvals as unknown as ApprovalRow[] };
}

export interface ListPlansQuery {
  readonly status?: PlanViewStatus | undefined;
  readonly service?: string | undefined;
  readonly environment?: string | undefined;
  /** Who asked: the actor id that requested the plan. */
  readonly requester?: string | undefined;
  /** Created at or after (ISO 8601). */
  readonly from?: string | undefined;
  /** Created before (ISO 8601, exclusive). */
  readonly to?: string | undefined;
  readonly limit?: number | undefined;
  readonly cursor?: string | null | undefined;
}

/** Newest first, keyset-paginated on (created_at, plan_id). */
export async function listPlans(db: Queryable, q: ListPlansQuery = {}): Promise<Page<PlanRow>> {
  const limit = clampLimit(q.limit);
  const cursor = decodeCursor(q.cursor, ["timestamp", "string"]);
  const where = [
    q.status === undefined ? null : sql.fragment`status = ${q.status}`,
    q.service === undefined ? null : sql.fragment`service = ${q.service}`,
    q.environment === undefined ? null : sql.fragment`environment = ${q.environment}`,
    q.requester === undefined ? null : sql.fragment`actor_id = ${q.requester}`,
    q.from === undefined ? null : sql.fragment`created_at >= ${q.from}::timestamptz`,
    q.to === undefined ? null : sql.fragment`created_at < ${q.to}::timestamptz`,
    cursor === null ? null : sql.fragment`(created_at, plan_id) < (${cursor[0]}::timestamptz, ${cursor[1]})`,
  ].filter((f) => f !== null);
  const rows = (await db.any(
    sql.unsafe`SELECT * FROM plans
      ${where.length > 0 ? sql.fragment`WHERE ${sql.join(where, sql.fragment` AND `)}` : sql.fragment``}
      ORDER BY created_at DESC, plan_id DESC LIMIT ${limit + 1}`,
  )) as unknown as PlanRow[];
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rows.length > limit && last ? encodeCursor([last.created_at, last.plan_id]) : null };
}

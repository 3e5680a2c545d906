import { type Queryable, type SqlClient, sql, type TableSpec, upsertRows, upsertStatement } from "../../lib/db/sql.ts";
import { createViewWriter, type ProjectionWriter } from "../types.ts";
import { foldPlanView, type PlanView, stepKey } from "./fold.ts";
import type { ApprovalRow, PlanRow, PlanStepRow } from "./rows.ts";

export const plansTable: TableSpec<PlanRow> = {
  table: "plans",
  key: ["plan_id"],
  columns: {
    plan_id: "text",
    revision: "int4",
    status: "text",
    intent: "text",
    source: "text",
    environment: "text",
    service: "text",
    signal_id: "text",
    summary: "text",
    digest: "text",
    planner: "jsonb",
    failure_reasons: "jsonb",
    decision: "text",
    tier: "text",
    policy: "jsonb",
    approvals_required: "int4",
    approvals_granted: "int4",
    actor_id: "text",
    correlation_id: "text",
    created_at: "timestamptz",
    updated_at: "timestamptz",
    last_seq: "int8",
  },
};

export const planStepsTable: TableSpec<PlanStepRow> = {
  table: "plan_steps",
  key: ["plan_id", "revision", "step_id"],
  columns: {
    plan_id: "text",
    revision: "int4",
    step_id: "text",
    position: "int4",
    action_id: "text",
    input: "jsonb",
    target: "jsonb",
    environment: "text",
    service: "text",
    rationale: "text",
    expected_effect: "text",
    verification: "jsonb",
    rollback: "jsonb",
    decision: "text",
    tier: "text",
    reasons: "jsonb",
    approvers_required: "int4",
    constraints: "jsonb",
  },
};

export const approvalsTable: TableSpec<ApprovalRow> = {
  table: "approvals",
  key: ["approval_id"],
  columns: {
    approval_id: "text",
    plan_id: "text",
    revision: "int4",
    status: "text",
    approvers_required: "int4",
    approvers: "jsonb",
    channels: "jsonb",
    links: "jsonb",
    expires_at: "timestamptz",
    reason: "text",
    requested_at: "timestamptz",
    decided_at: "timestamptz",
    last_seq: "int8",
  },
};

export async function loadPlanViews(db: Queryable, planIds: readonly string[]): Promise<Map<string, PlanView>> {
  const out = new Map<string, PlanView>();
  if (planIds.length === 0) return out;
  const ids = sql.array(planIds, "text");
  const [plans, steps, approvals] = await Promise.all([
    db.any(sql.unsafe`SELECT * FROM plans WHERE plan_id = ANY(${ids})`),
    db.any(sql.unsafe`SELECT * FROM plan_steps WHERE plan_id = ANY(${ids})`),
    db.any(sql.unsafe`SELECT * FROM approvals WHERE plan_id = ANY(${ids})`),
  ]);
  const stepsBy = new Map<string, Record<string, PlanStepRow>>();
  for (const s of steps as unknown as PlanStepRow[]) {
    const m = stepsBy.get(s.plan_id) ?? {};
    m[stepKey(s.revision, s.step_id)] = s;
    stepsBy.set(s.plan_id, m);
  }
  const apprBy = new Map<string, Record<string, ApprovalRow>>();
  for (const a of approvals as unknown as ApprovalRow[]) {
    const m = apprBy.get(a.plan_id) ?? {};
    m[a.approval_id] = a;
    apprBy.set(a.plan_id, m);
  }
  for (const p of plans as unknown as PlanRow[]) {
    out.set(p.plan_id, { plan: p, steps: stepsBy.get(p.plan_id) ?? {}, approvals: apprBy.get(p.plan_id) ?? {} });
  }
  return out;
}

/** Upserts plans (design name `createPlan`): every column of each row. */
export const upsertPlans = (db: Queryable, rows: readonly PlanRow[]) => upsertRows(db, plansTable, rows);
export const upsertPlanSteps = (db: Queryable, rows: readonly PlanStepRow[]) => upsertRows(db, planStepsTable, rows);
/** Upserts approvals (design names `createApproval`, `updateApprovalStatus`). */
export const upsertApprovals = (db: Queryable, rows: readonly ApprovalRow[]) => upsertRows(db, approvalsTable, rows);

export async function savePlanViews(db: Queryable, views: Iterable<PlanView>): Promise<void> {
  const plans: PlanRow[] = [];
  const steps: PlanStepRow[] = [];
  const approvals: ApprovalRow[] = [];
  for (const v of views) {
    plans.push(v.plan);
    steps.push(...Object.values(v.steps));
    approvals.push(...Object.values(v.approvals));
  }
  await upsertPlans(db, plans);
  await upsertPlanSteps(db, steps);
  await upsertApprovals(db, approvals);
}

// One round trip for all three tables; rows come back as JSON (timestamps in Postgres' JSON form, which
// Postgres reads back as the same instants).
const LOAD_SQL = `SELECT
  (SELECT coalesce(json_agg(p), '[]') FROM plans p WHERE plan_id = ANY($1::text[])) AS plans,
  (SELECT coalesce(json_agg(s), '[]') FROM plan_steps s WHERE plan_id = ANY($1::text[])) AS steps,
  (SELECT coalesce(json_agg(a), '[]') FROM approvals a WHERE plan_id = ANY($1::text[])) AS approvals`;

/** Plan views of `planIds` in one query (ids with no plan are absent). */
export async function loadPlanViewsJson(db: SqlClient, planIds: readonly string[]): Promise<Map<string, PlanView>> {
  const out = new Map<string, PlanView>();
  if (planIds.length === 0) return out;
  const { rows } = await db.query<{ plans: PlanRow[]; steps: PlanStepRow[]; approvals: ApprovalRow[] }>(LOAD_SQL, [
    planIds,
  ]);
  const row = rows[0];
  if (!row) return out;
  for (const p of row.plans) out.set(p.plan_id, { plan: p, steps: {}, approvals: {} });
  for (const s of row.steps) {
    const v = out.get(s.plan_id);
    if (v) (v.steps as Record<string, PlanStepRow>)[stepKey(s.revision, s.step_id)] = s;
  }
  for (const a of row.approvals) {
    const v = out.get(a.plan_id);
    if (v) (v.approvals as Record<string, ApprovalRow>)[a.approval_id] = a;
  }
  return out;
}

/**
 * The plans writer: views kept in memory between batches, loaded only on
 * first sight, folded per aggregate with `foldPlanView`, and saved as one
 * upsert per table holding only the rows that changed.
 */
export function createPlansWriter(maxViews?: number): ProjectionWriter {
  return createViewWriter<PlanView>({
    tables: ["plans", "plan_steps", "approvals"],
    maxViews,
    load: loadPlanViewsJson,
    fold: foldPlanView,
    save(changed) {
      const plans: PlanRow[] = [];
      const steps: PlanStepRow[] = [];
      const approvals: ApprovalRow[] = [];
      for (const { prev, next } of changed) {
        plans.push(next.plan);
        for (const [k, row] of Object.entries(next.steps)) if (prev?.steps[k] !== row) steps.push(row);
        for (const [k, row] of Object.entries(next.approvals)) if (prev?.approvals[k] !== row) approvals.push(row);
      }
      return [
        upsertStatement(plansTable, plans),
        upsertStatement(planStepsTable, steps),
        upsertStatement(approvalsTable, approvals),
      ];
    },
  });
}

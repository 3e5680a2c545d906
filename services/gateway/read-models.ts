/**
 * Queries over the Postgres read models (migrations/0001_init.sql). Only
 * projectors write these tables; the gateway only reads them. Pages are
 * keyset-paginated on (created_at, id) so a page never skips or repeats a
 * row while new ones arrive; the cursor is the last row's key.
 */

import { decodeCursor, encodeCursor } from "../../lib/db/cursor.ts";
import type { Page, SqlClient } from "../../lib/db/sql.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { type ServiceDetail, toServiceDetail } from "../../projections/context/detail.ts";
import type {
  ExecutionDetail,
  ExecutionRow,
  ExecutionView,
  ExecutionViewStatus,
} from "../../projections/executions/index.ts";
import type { PlanDetail, PlanRow, PlanView, PlanViewStatus } from "../../projections/plans/index.ts";
import type { ReadModelQueries } from "../../projections/queries.ts";
import type { ExecutionMeasurementsResponse } from "../../schemas/api/index.ts";
import { measurementsResponse } from "./measurements.ts";

/** Who asked for it (actor id) and when it was created (`from` inclusive, `to` exclusive; ISO 8601). */
export interface CreatedFilter {
  requester?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export interface ReadModels {
  getPlan(planId: string): Promise<Record<string, unknown> | null>;
  listPlans(
    filter: {
      status?: string | undefined;
      service?: string | undefined;
      environment?: string | undefined;
    } & CreatedFilter,
    page: { cursor?: string | undefined; limit: number },
  ): Promise<Page<Record<string, unknown>>>;
  getExecution(executionId: string): Promise<Record<string, unknown> | null>;
  /** The execution's verification measurements as series with their thresholds; null when there is no such execution. */
  getMeasurements(executionId: string): Promise<ExecutionMeasurementsResponse | null>;
  listExecutions(
    filter: { plan_id?: string | undefined; status?: string | undefined } & CreatedFilter,
    page: { cursor?: string | undefined; limit: number },
  ): Promise<Page<Record<string, unknown>>>;
  listServices(
    filter: { environment?: string | undefined },
    page: { cursor?: string | undefined; limit: number },
  ): Promise<Page<Record<string, unknown>>>;
  /** The service nodes named `name` (one per environment, or the one in `environment`) as the API shows them. */
  getServices(name: string, environment?: string | undefined): Promise<ServiceDetail[]>;
  /** Whether the read models include the event at stream sequence `seq` (for `Prefer: wait`). */
  caughtUp(seq: number, target: { kind: "plan" | "execution" | "signal"; id: string }): Promise<boolean>;
  ping(): Promise<void>;
}

/** A plan as the API shows it (`PlanResponse`): the read model's row with its steps and approvals, and its version. */
function planResponse(plan: PlanDetail | PlanRow) {
  return {
    ...plan,
    requested_by: plan.actor_id ? { kind: "user", id: plan.actor_id } : null,
    approvers_required: plan.approvals_required,
    version: plan.last_seq,
    steps: "steps" in plan ? plan.steps : [],
    approvals: "approvals" in plan ? plan.approvals : [],
  };
}

/** An execution as the API shows it (`ExecutionResponse`). */
function executionResponse(execution: ExecutionDetail | ExecutionRow) {
  return {
    ...execution,
    requested_by: execution.actor_id ? { kind: "user", id: execution.actor_id } : null,
    steps: Object.entries(execution.steps ?? {}).map(([step_id, s]) => ({ step_id, ...(s as object) })),
    tool_calls: "tool_calls" in execution ? execution.tool_calls : [],
    version: execution.last_seq,
  };
}

/**
 * A plan as the read model's fold holds it (an as-of replay), in the shape
 * `GET /v1/plans/{id}` serves: the current revision's steps in plan order
 * and the approvals in the order they were requested.
 */
export function planResponseOf(view: PlanView) {
  const revision = view.plan.revision ?? 0;
  const steps = Object.values(view.steps)
    .filter((s) => s.revision === revision)
    .sort((a, b) => a.position - b.position);
  const approvals = Object.values(view.approvals).sort((a, b) =>
    a.requested_at === b.requested_at
      ? a.approval_id.localeCompare(b.approval_id)
      : a.requested_at.localeCompare(b.requested_at),
  );
  return planResponse({ ...view.plan, steps, approvals });
}

/** An execution as the read model's fold holds it, in the shape `GET /v1/executions/{id}` serves. */
export function executionResponseOf(view: ExecutionView) {
  const toolCalls = Object.values(view.toolCalls).sort((a, b) =>
    a.started_at === b.started_at
      ? a.tool_call_id.localeCompare(b.tool_call_id)
      : a.started_at === null
        ? 1
        : b.started_at === null
          ? -1
          : a.started_at.localeCompare(b.started_at),
  );
  return executionResponse({ ...view.execution, tool_calls: toolCalls });
}

export interface ReadModelsDeps {
  /** The read models' own queries (projections/queries.ts). */
  readonly queries: Pick<
    ReadModelQueries,
    | "getPlan"
    | "listPlans"
    | "getExecution"
    | "listExecutions"
    | "getExecutionMeasurements"
    | "listContextServices"
    | "getContextServices"
  >;
  /** Plain SQL on the same schema, for the projection checkpoints. */
  readonly sql: SqlClient;
  /** The events stream the sequences count in: checkpoints bound to another stream cover none of it. */
  readonly stream: Pick<EventStore, "identity">;
}

export function createReadModels(deps: ReadModelsDeps): ReadModels {
  const { queries, sql, stream } = deps;
  return {
    async getPlan(planId) {
      const plan = await queries.getPlan(planId);
      return plan ? planResponse(plan) : null;
    },

    async listPlans(filter, p) {
      const page = await queries.listPlans({
        status: filter.status as PlanViewStatus | undefined,
        service: filter.service,
        environment: filter.environment,
        requester: filter.requester,
        from: filter.from,
        to: filter.to,
        limit: p.limit,
        cursor: p.cursor,
      });
      return { items: page.items.map(planResponse), next_cursor: page.next_cursor };
    },

    async getExecution(executionId) {
      const execution = await queries.getExecution(executionId);
      return execution ? executionResponse(execution) : null;
    },

    async getMeasurements(executionId) {
      const data = await queries.getExecutionMeasurements(executionId);
      return data ? measurementsResponse(data) : null;
    },

    async listExecutions(filter, p) {
      const page = await queries.listExecutions({
        planId: filter.plan_id,
        status: filter.status as ExecutionViewStatus | undefined,
        requester: filter.requester,
        from: filter.from,
        to: filter.to,
        limit: p.limit,
        cursor: p.cursor,
      });
      return { items: page.items.map(executionResponse), next_cursor: page.next_cursor };
    },

    async listServices(filter, p) {
      // The service graph is small (one row per service); its query returns it whole, sorted by name.
      const after = decodeCursor(p.cursor, ["string", "string"], "query.cursor");
      const all = (await queries.listContextServices())
        .filter((s) => filter.environment === undefined || s.environment === filter.environment)
        .map((s) => ({ ...s, edges: s.edges.map((e) => ({ kind: e.kind, to_node: e.to })) }))
        .sort((x, y) => (x.name === y.name ? x.node_id.localeCompare(y.node_id) : x.name.localeCompare(y.name)));
      const rest = after ? all.filter((s) => s.name > after[0] || (s.name === after[0] && s.node_id > after[1])) : all;
      const items = rest.slice(0, p.limit);
      const last = items[items.length - 1];
      return {
        items: items as unknown as Record<string, unknown>[],
        next_cursor: rest.length > p.limit && last ? encodeCursor([last.name, last.node_id]) : null,
      };
    },

    async getServices(name, environment) {
      return (await queries.getContextServices(name, environment)).map(toServiceDetail);
    },

    async caughtUp(seq, target) {
      // The row the command wrote to is the precise answer; the checkpoints
      // cover aggregates without a row of their own (signals).
      const table =
        target.kind === "plan"
          ? "SELECT last_seq FROM plans WHERE plan_id = $1"
          : target.kind === "execution"
            ? "SELECT last_seq FROM executions WHERE execution_id = $1"
            : null;
      if (table) {
        const { rows } = await sql.query<{ last_seq: string }>(table, [target.id]);
        if (rows[0] && Number(rows[0].last_seq) >= seq) return true;
      }
      // Only checkpoints taken in this stream count: after the stream was created again (sequences
      // start over), old checkpoints past `seq` say nothing about the event just appended.
      const { id } = await stream.identity();
      const { rows } = await sql.query<{ min: string | null; other_streams: string }>(
        `SELECT min(last_seq) AS min, count(*) FILTER (WHERE stream_id IS DISTINCT FROM $1) AS other_streams
         FROM projection_checkpoints`,
        [id],
      );
      const row = rows[0];
      return row !== undefined && row.min !== null && Number(row.other_streams) === 0 && Number(row.min) >= seq;
    },

    async ping() {
      await sql.query("SELECT 1");
    },
  };
}

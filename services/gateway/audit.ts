/**
 * Audit handlers: the trail (list, NDJSON export with its chain proof,
 * verification), an aggregate as of a time, and a change explained. All of
 * them are lib/audit's transport-free queries; this file maps requests onto
 * them and their answers onto the API's shapes. Nothing here writes: the
 * audit API has no update, delete or purge, by design.
 */
import type { AuditFilters, AuditQueries } from "../../lib/audit/index.ts";
import { NotFoundError, ValidationError } from "../../lib/errors/index.ts";
import type { ExecutionView } from "../../projections/executions/index.ts";
import type { PlanView } from "../../projections/plans/index.ts";
import {
  AsOfQuerySchema,
  AuditExportQuerySchema,
  AuditQuerySchema,
  AuditVerifyQuerySchema,
  ExecutionIdParamsSchema,
  ExplainQuerySchema,
  PlanIdParamsSchema,
} from "../../schemas/api/index.ts";
import { type ApiRequest, type ApiResponse, json, parseInput } from "./api.ts";
import { executionResponseOf, planResponseOf } from "./read-models.ts";

/** What the gateway uses of lib/audit. */
export type AuditApi = Pick<
  AuditQueries<PlanView, ExecutionView>,
  "listAuditEvents" | "exportAuditEvents" | "planAsOf" | "executionAsOf" | "explainChange" | "verifyAudit"
>;

export const NDJSON = "application/x-ndjson";

/** lib/audit names the field it refuses (`from`, `limit`); the API names where it was (`query.from`). */
async function inQuery<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ValidationError && error.field && !error.field.includes(".")) {
      throw new ValidationError(error.message, { field: `query.${error.field}`, fix: error.fix, cause: error });
    }
    throw error;
  }
}

function filtersOf(q: Record<string, unknown>): AuditFilters {
  const filters: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(q)) {
    if (value !== undefined && key !== "cursor" && key !== "limit" && key !== "check_columns") filters[key] = value;
  }
  return filters as AuditFilters;
}

/**
 * Starts the export before answering, so that a refusal (a bad filter, the
 * database down) is still a problem response rather than a stream cut short;
 * after the first chunk, the rest is pulled as the client reads.
 */
async function startStream(lines: AsyncIterable<string>): Promise<AsyncIterable<string>> {
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  return {
    async *[Symbol.asyncIterator]() {
      if (first.done) return;
      yield first.value;
      try {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
      } finally {
        // The client went away: let the export release its database cursor.
        await iterator.return?.();
      }
    },
  };
}

function wantsNdjson(request: ApiRequest): boolean {
  return (request.headers.accept ?? "").split(",").some((part) => part.trim().split(";")[0] === NDJSON);
}

export function createAuditHandlers(audit: AuditApi) {
  async function exportAuditEvents(request: ApiRequest): Promise<ApiResponse> {
    const q = parseInput(AuditExportQuerySchema, request.query, "query");
    const lines = await inQuery(() =>
      startStream(audit.exportAuditEvents(filtersOf(q), { checkColumns: q.check_columns ?? false })),
    );
    return { status: 200, headers: { "content-type": `${NDJSON}; charset=utf-8` }, body: lines };
  }

  return {
    /** GET /v1/audit/events (`Accept: application/x-ndjson`: the export). */
    async listAuditEvents(request: ApiRequest): Promise<ApiResponse> {
      if (wantsNdjson(request)) {
        const { cursor: _c, limit: _l, ...rest } = request.query as Record<string, unknown>;
        return exportAuditEvents({ ...request, query: rest });
      }
      const q = parseInput(AuditQuerySchema, request.query, "query");
      const page = await inQuery(() => audit.listAuditEvents({ ...filtersOf(q), cursor: q.cursor, limit: q.limit }));
      return json(200, page);
    },

    /** GET /v1/audit/events.ndjson */
    exportAuditEvents,

    /** GET /v1/audit/verify */
    async verifyAudit(request: ApiRequest): Promise<ApiResponse> {
      const q = parseInput(AuditVerifyQuerySchema, request.query, "query");
      return json(200, await audit.verifyAudit({ evidence: q.evidence ?? false }));
    },

    /** GET /v1/plans/{id}/as-of */
    async planAsOf(request: ApiRequest): Promise<ApiResponse> {
      const { id } = parseInput(PlanIdParamsSchema, request.params, "params");
      const { at } = parseInput(AsOfQuerySchema, request.query, "query");
      const found = await inQuery(() => audit.planAsOf(id, at));
      if (!found) {
        throw new NotFoundError(`plan ${id} did not exist at ${at}`, {
          field: "query.at",
          fix: "ask for a later time (GET /v1/plans/{id} has created_at), or check the id",
        });
      }
      const { state, ...rest } = found;
      return json(200, { ...rest, state: planResponseOf(state) });
    },

    /** GET /v1/executions/{id}/as-of */
    async executionAsOf(request: ApiRequest): Promise<ApiResponse> {
      const { id } = parseInput(ExecutionIdParamsSchema, request.params, "params");
      const { at } = parseInput(AsOfQuerySchema, request.query, "query");
      const found = await inQuery(() => audit.executionAsOf(id, at));
      if (!found) {
        throw new NotFoundError(`execution ${id} did not exist at ${at}`, {
          field: "query.at",
          fix: "ask for a later time (GET /v1/executions/{id} has created_at), or check the id",
        });
      }
      const { state, ...rest } = found;
      return json(200, { ...rest, state: executionResponseOf(state) });
    },

    /** GET /v1/plans/{id}/explain */
    async explainPlan(request: ApiRequest): Promise<ApiResponse> {
      const { id } = parseInput(PlanIdParamsSchema, request.params, "params");
      const q = parseInput(ExplainQuerySchema, request.query, "query");
      const story = await audit.explainChange(id, { verifyEvidence: q.verify_evidence ?? false });
      if (!story || story.plan_id !== id) {
        throw new NotFoundError(`no plan ${id}`, {
          field: "params.id",
          fix: "check the id; for an execution use GET /v1/executions/{id}/explain",
        });
      }
      return json(200, story);
    },

    /** GET /v1/executions/{id}/explain */
    async explainExecution(request: ApiRequest): Promise<ApiResponse> {
      const { id } = parseInput(ExecutionIdParamsSchema, request.params, "params");
      const q = parseInput(ExplainQuerySchema, request.query, "query");
      const story = await audit.explainChange(id, { verifyEvidence: q.verify_evidence ?? false });
      if (!story?.executions.some((e) => e.execution_id === id)) {
        throw new NotFoundError(`no execution ${id}`, {
          field: "params.id",
          fix: "check the id; for a plan use GET /v1/plans/{id}/explain",
        });
      }
      return json(200, story);
    },
  };
}

/** Query handlers: read the Postgres read models, never the streams. A missing row is a 404. */
import { NotFoundError, ValidationError } from "../../lib/errors/index.ts";
import {
  ContextServicesQuerySchema,
  ExecutionIdParamsSchema,
  ListExecutionsQuerySchema,
  ListPlansQuerySchema,
  PlanIdParamsSchema,
  ServiceNameParamsSchema,
  ServiceQuerySchema,
} from "../../schemas/api/index.ts";
import { type ApiRequest, type ApiResponse, json, parseInput } from "./api.ts";
import type { ReadModels } from "./read-models.ts";

export function createQueryHandlers(readModels: ReadModels) {
  return {
    /** The caller as authenticated: what the console shows or hides actions by (the routes still check). */
    async getMe(request: ApiRequest): Promise<ApiResponse> {
      const actor = request.actor;
      if (!actor) throw new Error("GET /v1/me reached its handler without an authenticated caller");
      return json(200, {
        kind: actor.kind,
        id: actor.id,
        roles: actor.roles,
        groups: actor.groups ?? [],
        display_name: actor.display_name ?? null,
      });
    },
    async getPlan(request: ApiRequest): Promise<ApiResponse> {
      const { id } = parseInput(PlanIdParamsSchema, request.params, "params");
      const plan = await readModels.getPlan(id);
      if (!plan) {
        throw new NotFoundError(`no plan ${id}`, {
          field: "params.id",
          fix: "check the id; a plan just requested appears once projected (send Prefer: wait=5 with the request)",
        });
      }
      return json(200, plan, { etag: `"${String(plan.version)}"` });
    },
    async listPlans(request: ApiRequest): Promise<ApiResponse> {
      const q = parseInput(ListPlansQuerySchema, request.query, "query");
      return json(
        200,
        await readModels.listPlans(
          {
            status: q.status,
            service: q.service,
            environment: q.environment,
            requester: q.requester,
            from: q.from,
            to: q.to,
          },
          { cursor: q.cursor, limit: q.limit },
        ),
      );
    },
    async getExecution(request: ApiRequest): Promise<ApiResponse> {
      const { id } = parseInput(ExecutionIdParamsSchema, request.params, "params");
      const execution = await readModels.getExecution(id);
      if (!execution) throw new NotFoundError(`no execution ${id}`, { field: "params.id", fix: "check the id" });
      return json(200, execution);
    },
    async getExecutionMeasurements(request: ApiRequest): Promise<ApiResponse> {
      const { id } = parseInput(ExecutionIdParamsSchema, request.params, "params");
      const measurements = await readModels.getMeasurements(id);
      if (!measurements) throw new NotFoundError(`no execution ${id}`, { field: "params.id", fix: "check the id" });
      return json(200, measurements);
    },
    async listExecutions(request: ApiRequest): Promise<ApiResponse> {
      const q = parseInput(ListExecutionsQuerySchema, request.query, "query");
      return json(
        200,
        await readModels.listExecutions(
          { plan_id: q.plan_id, status: q.status, requester: q.requester, from: q.from, to: q.to },
          { cursor: q.cursor, limit: q.limit },
        ),
      );
    },
    async getService(request: ApiRequest): Promise<ApiResponse> {
      const { name } = parseInput(ServiceNameParamsSchema, request.params, "params");
      const { environment } = parseInput(ServiceQuerySchema, request.query, "query");
      const found = await readModels.getServices(name, environment);
      if (found.length === 0) {
        throw new NotFoundError(`no service ${name}${environment ? ` in ${environment}` : ""} in the context graph`, {
          field: "params.name",
          fix: "list the services with GET /v1/context/services; a service appears once the context service has seen its workloads",
        });
      }
      if (found.length > 1) {
        const environments = found.map((s) => s.environment ?? "(none)").join(", ");
        throw new ValidationError(`service ${name} runs in several environments (${environments})`, {
          field: "query.environment",
          fix: `name one: ?environment=${found[0]?.environment ?? ""}`,
        });
      }
      return json(200, found[0]);
    },
    async listServices(request: ApiRequest): Promise<ApiResponse> {
      const q = parseInput(ContextServicesQuerySchema, request.query, "query");
      return json(
        200,
        await readModels.listServices({ environment: q.environment }, { cursor: q.cursor, limit: q.limit }),
      );
    },
  };
}

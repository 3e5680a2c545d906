/**
 * The context service's transport: `RefreshContext` and `GetServiceGraph` as RPC over HTTP+JSON,
 * and its health (schemas/rpc/context.ts). Loopback by default; errors are problem+json.
 */
import Fastify, { type FastifyInstance } from "fastify";
import * as v from "valibot";
import { toProblem, ValidationError } from "../../lib/errors/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { GetServiceGraphRequestSchema, RefreshContextRequestSchema } from "../../schemas/rpc/context.ts";
import type { ContextService } from "./service.ts";

export interface ContextTransport {
  readonly app: FastifyInstance;
  start(options: { host: string; port: number }): Promise<string>;
  stop(): Promise<void>;
}

function parse<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, body ?? {});
  if (result.success) return result.output;
  const issues = result.issues.map((i) => ({
    field: `body.${v.getDotPath(i) ?? ""}`.replace(/\.$/, ""),
    message: i.message,
  }));
  throw new ValidationError(`invalid request: ${issues[0]?.field} ${issues[0]?.message}`, {
    field: issues[0]?.field,
    fix: "send a body matching the RPC's request schema (schemas/rpc/context.ts)",
    issues,
  });
}

export function createContextTransport(service: ContextService, logger: Logger): ContextTransport {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error, request.url);
    if (problem.status >= 500) logger.error({ err: error, url: request.url }, "context request failed");
    void reply.status(problem.status).type("application/problem+json").send(problem);
  });
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const health = service.health();
    return reply.code(health.status === "ok" || health.status === "degraded" ? 200 : 503).send(health);
  });
  app.post("/rpc/RefreshContext", async (request) =>
    service.refreshContext(parse(RefreshContextRequestSchema, request.body)),
  );
  app.post("/rpc/GetServiceGraph", async (request) => ({
    services: service.getServiceGraph(parse(GetServiceGraphRequestSchema, request.body)),
  }));
  return {
    app,
    start: ({ host, port }) => app.listen({ host, port }),
    stop: () => app.close(),
  };
}

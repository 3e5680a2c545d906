/**
 * The tool router's transport: typed RPC over HTTP+JSON on Fastify.
 *
 *   POST /rpc/ListTools       {}                      → ListToolsResult
 *   POST /rpc/ExecuteTool     ExecuteToolRequest      → ExecuteToolResult
 *   POST /rpc/GetResource     GetResourceRequest      → GetResourceResult
 *   POST /rpc/StreamToolLogs  StreamToolLogsRequest   → NDJSON, one ToolLogLine per line
 *
 * The shapes are the contract in schemas/rpc/tool-router.ts, shared with the
 * orchestrator's client.
 *
 * ExecuteTool, GetResource and StreamToolLogs each need a capability in the
 * `Wheelhouse-Capability` header: a short-lived Ed25519-signed token the
 * orchestrator mints after its approval check, bound to this exact call
 * (lib/tools/capability.ts). It is checked before anything else: before the
 * body is validated, before any event is appended, before any process
 * starts. No capability → 401; a bad, expired, replayed or mismatched one →
 * 403; either way nothing runs and nothing is recorded but one log line
 * naming the caller's address.
 *
 * Errors are RFC 9457 problem+json. Request bodies are checked with the JSON
 * Schema generated from the contract (Fastify's ajv) before a handler sees them. An optional bearer token
 * protects the router when it listens beyond loopback.
 */
import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from "fastify";
import {
  ConfigError,
  type ProblemDetails,
  toProblem,
  toWheelhouseError,
  UnauthenticatedError,
  ValidationError,
} from "../../lib/errors/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import {
  CAPABILITY_HEADER,
  type CapabilityClaims,
  type CapabilityPurpose,
  type CapabilityVerifier,
} from "../../lib/tools/index.ts";
import {
  type ExecuteToolRequest,
  type GetResourceRequest,
  type StreamToolLogsRequest,
  type ToolLogMessage,
  toolRouterRequestJsonSchema,
} from "../../schemas/rpc/tool-router.ts";
import type { ToolRouter } from "./router.ts";

export interface ToolRouterTransportDeps {
  readonly router: ToolRouter;
  readonly logger?: Logger | undefined;
  /** Checks the capability every ExecuteTool, GetResource and StreamToolLogs must carry. */
  readonly capabilities: CapabilityVerifier;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  readonly authToken?: string | null | undefined;
  readonly bodyLimitBytes?: number | undefined;
}

export interface ToolRouterTransport {
  start(options: { host: string; port: number }): Promise<string>;
  stop(): Promise<void>;
  readonly app: FastifyInstance;
}

/**
 * Whether `host` only accepts connections from this machine. Every call that
 * acts needs a capability wherever the router listens; beyond loopback the
 * bearer token also keeps strangers from ListTools and from probing.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)?.[1];
  return mapped?.startsWith("127.") === true;
}

export function createToolRouterTransport(deps: ToolRouterTransportDeps): ToolRouterTransport {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimitBytes ?? 1_048_576,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true } },
  });
  const expected = deps.authToken ? Buffer.from(deps.authToken) : null;

  app.addHook("onRequest", async (request) => {
    if (!expected) return;
    const header = request.headers.authorization ?? "";
    const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new UnauthenticatedError("missing or wrong bearer token for the tool router", {
        field: "authorization",
        fix: "send Authorization: Bearer <tool router token>",
      });
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let e: unknown = error;
    if (error.validation) {
      const issues = error.validation.map((v) => ({
        field: `body${v.instancePath.replace(/\//g, ".")}${
          v.keyword === "additionalProperties"
            ? `.${String((v.params as { additionalProperty?: string }).additionalProperty)}`
            : ""
        }`,
        message: v.message ?? v.keyword,
        fix: "send a body matching the RPC's request schema",
      }));
      e = new ValidationError(`invalid request: ${issues[0]?.field} ${issues[0]?.message}`, {
        field: issues[0]?.field,
        fix: issues[0]?.fix,
        issues,
      });
    } else if (error.statusCode === 415 || error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      e = new ValidationError("requests must be application/json", {
        field: "content-type",
        fix: "send Content-Type: application/json",
      });
    }
    const problem = toProblem(e, request.url);
    if (problem.status >= 500) deps.logger?.error({ err: error, url: request.url }, "tool router request failed");
    void reply.status(problem.status).type("application/problem+json").send(problem);
  });

  /**
   * Route hooks for an RPC that needs a capability: it must be present and genuine before the body is
   * even parsed (onRequest), and cover this exact call once it is (preValidation, ahead of the schema).
   */
  const authenticated = new WeakMap<FastifyRequest, CapabilityClaims>();
  const capability = (purpose: CapabilityPurpose, callOf: (body: Record<string, unknown>) => object) => ({
    onRequest: async (request: FastifyRequest) => {
      try {
        const header = request.headers[CAPABILITY_HEADER];
        authenticated.set(request, await deps.capabilities.authenticate(typeof header === "string" ? header : null));
      } catch (error) {
        await refuse(request, error);
      }
    },
    preValidation: async (request: FastifyRequest) => {
      const claims = authenticated.get(request) as CapabilityClaims;
      const body = request.body !== null && typeof request.body === "object" ? request.body : {};
      try {
        deps.capabilities.authorise(claims, { purpose, ...callOf(body as Record<string, unknown>) });
      } catch (error) {
        await refuse(request, error);
      }
    },
  });
  /** Logs the refusal with the caller's address only (never its ids or input), then answers with it. */
  const refuse = async (request: FastifyRequest, error: unknown): Promise<never> => {
    const e = toWheelhouseError(error);
    deps.logger?.warn(
      { remote: request.ip, port: request.socket.remotePort, rpc: request.routeOptions.url, status: e.status },
      `tool router refused a call: ${e.message}`,
    );
    throw e;
  };

  app.post("/rpc/ListTools", async () => deps.router.listTools());

  app.post<{ Body: ExecuteToolRequest }>(
    "/rpc/ExecuteTool",
    {
      schema: { body: toolRouterRequestJsonSchema("ExecuteTool") },
      ...capability("execute", (b) => ({
        execution_id: b.execution_id,
        step_id: b.step_id,
        action_id: b.action_id,
        input: b.input,
        tool_call_id: b.tool_call_id,
        dry_run: b.dry_run,
      })),
    },
    async (request, reply) => {
      // A client that goes away cancels the call: the sandbox process and the tool's process group are stopped.
      const controller = new AbortController();
      reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
      return deps.router.executeTool(request.body, controller.signal);
    },
  );

  app.post<{ Body: GetResourceRequest }>(
    "/rpc/GetResource",
    {
      schema: { body: toolRouterRequestJsonSchema("GetResource") },
      ...capability("read", (b) => ({
        execution_id: b.execution_id,
        step_id: b.step_id,
        action_id: b.action_id,
        input: b.input,
      })),
    },
    async (request) => deps.router.getResource(request.body),
  );

  app.post<{ Body: StreamToolLogsRequest }>(
    "/rpc/StreamToolLogs",
    {
      schema: { body: toolRouterRequestJsonSchema("StreamToolLogs") },
      ...capability("logs", (b) => ({ tool_call_id: b.tool_call_id })),
    },
    async (request, reply) => {
      const messages = deps.router.streamToolLogs(request.body);
      const body = Readable.from(
        (async function* () {
          try {
            for await (const message of messages) yield ndjsonLine(message);
          } catch (error) {
            yield ndjsonLine({ type: "error", error: toProblem(error) });
          }
        })(),
      );
      return reply.type("application/x-ndjson").header("cache-control", "no-store").send(body);
    },
  );

  return {
    app,
    async start({ host, port }) {
      if (!expected && !isLoopbackHost(host)) {
        // Unauthenticated and reachable from the network would let anyone run kubectl, helm or vault writes.
        throw new ConfigError(`the tool router would listen on ${host} without a bearer token`, [
          {
            field: "tools.router_token",
            message: `is unset while tools.router_host (${host}) is not a loopback address`,
            fix: "set tools.router_token to a secret reference (env:NAME or file:/path), or listen on 127.0.0.1",
          },
        ]);
      }
      return app.listen({ host, port });
    },
    async stop() {
      await app.close();
    },
  };
}

/** One line of the StreamToolLogs answer (a `ToolLogLine` of the contract). */
function ndjsonLine(message: ToolLogMessage | { type: "error"; error: ProblemDetails }): string {
  return `${JSON.stringify(message)}\n`;
}

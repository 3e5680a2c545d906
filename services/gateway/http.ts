/**
 * The HTTP transport: Fastify 5 mapping the transport-free routes (the two
 * that are streams by nature, WebSocket `/v1/ws` and SSE logs, are served by
 * `http-streams.ts`). Everything HTTP-specific lives in these two files: body
 * parsing with UTF-8 and size checks, problem+json rendering, metrics,
 * security headers.
 *
 * Every route of the table, streams included, enters through `admit`:
 * failed-authentication limit, authentication and role, command rate limit,
 * then the whole request (path, query, headers, body) checked against the
 * route's declared schemas. Only then does a handler (or a stream) run, so a
 * request that is refused has done nothing, and a route added to the table
 * gets all of this without asking.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Actor, ApprovalChannel, Role } from "../../events/index.ts";
import { type Principal, requireRole } from "../../lib/auth/index.ts";
import {
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  RelayedError,
  toProblem,
  toWheelhouseError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  ValidationError,
  WheelhouseError,
} from "../../lib/errors/index.ts";
import { type ApiRequest, assertRouteContracts, type Route, validateRequest } from "./api.ts";
import { type ConsoleDeps, registerConsole } from "./http-console.ts";
import {
  registerWebSocketPlugin,
  type StreamContext,
  type StreamDeps,
  serveSse,
  serveWebSocket,
  toUrl,
} from "./http-streams.ts";
import type { RateLimiter } from "./rate-limit.ts";

/** What the transport needs; `authFailures` is the budget of `gateway.auth_failures_per_minute`. */
export interface HttpTransportDeps extends StreamDeps {
  readonly routes: readonly Route[];
  readonly rateLimiter: RateLimiter;
  readonly bodyLimitBytes: number;
  readonly openapi: () => unknown;
  readonly health: () => Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** Extra GET endpoints without auth (the dev issuer's documents). */
  readonly publicDocuments?: Readonly<Record<string, () => unknown>> | undefined;
  /** The console's static files and sign-in (http-console.ts); none: only the API is served. */
  readonly console?: ConsoleDeps | undefined;
}

export interface HttpTransport {
  start(options: { host: string; port: number }): Promise<string>;
  stop(): Promise<void>;
  readonly app: FastifyInstance;
}

const rawBodies = new WeakMap<FastifyRequest, Buffer>();
/** `/v1/plans/{id}:execute` (AIP-136 custom method): a literal after a parameter in one path segment. */
const CUSTOM_METHOD = /^(.*)\{(\w+)\}:([\w-]+)$/;

function isStream(body: unknown): body is AsyncIterable<string | Uint8Array> {
  return (
    typeof body === "object" &&
    body !== null &&
    !Buffer.isBuffer(body) &&
    typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}
const utf8 = new TextDecoder("utf-8", { fatal: true });

function headersOf(request: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, value] of Object.entries(request.headers)) {
    out[k.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** Fastify's own errors (body limit, content type, ...) become Wheelhouse errors with a fix. */
function fromFastifyError(error: FastifyError, bodyLimit: number): WheelhouseError {
  if (error instanceof WheelhouseError) return error;
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new PayloadTooLargeError(`the request body is larger than ${bodyLimit} bytes`, {
        field: "body",
        fix: `send at most ${bodyLimit} bytes (gateway.body_limit_bytes)`,
      });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new UnsupportedMediaTypeError("the request body must be JSON", {
        field: "Content-Type",
        fix: "send Content-Type: application/json",
      });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ValidationError("the JSON body is empty", { field: "body", fix: "send a JSON object" });
    default:
      if (error.statusCode === 413)
        return fromFastifyError({ ...error, code: "FST_ERR_CTP_BODY_TOO_LARGE" }, bodyLimit);
      if (error.statusCode === 415)
        return fromFastifyError({ ...error, code: "FST_ERR_CTP_INVALID_MEDIA_TYPE" }, bodyLimit);
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return new RelayedError("bad_request", error.statusCode, error.message);
      }
      return toWheelhouseError(error);
  }
}

function sendProblem(reply: FastifyReply, error: WheelhouseError, instance: string) {
  if (error instanceof RateLimitedError) void reply.header("retry-after", String(error.retryAfterSeconds));
  if (error.status === 401) void reply.header("www-authenticate", 'Bearer realm="wheelhouse"');
  return reply.code(error.status).type("application/problem+json").send(toProblem(error, instance));
}

export function createHttpTransport(deps: HttpTransportDeps): HttpTransport {
  const app = Fastify({
    bodyLimit: deps.bodyLimitBytes,
    logger: false,
    genReqId: () => randomUUID(),
    // Stopping must not wait for keep-alive clients to go away on their own.
    forceCloseConnections: true,
    // Strict routing: `/v1/plans/` is not `/v1/plans`.
    routerOptions: { ignoreTrailingSlash: false },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json(;.*)?$/i, { parseAs: "buffer" }, (request, body, done) => {
    const raw = body as Buffer;
    rawBodies.set(request, raw);
    if (raw.length === 0) {
      done(new ValidationError("the JSON body is empty", { field: "body", fix: "send a JSON object" }), undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      done(
        new ValidationError("the body is not valid UTF-8", { field: "body", fix: "encode the JSON body as UTF-8" }),
        undefined,
      );
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(
        new ValidationError(`the body is not valid JSON: ${(e as Error).message}`, {
          field: "body",
          fix: "send a well-formed JSON document",
        }),
        undefined,
      );
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e = fromFastifyError(error, deps.bodyLimitBytes);
    if (e.status >= 500) deps.logger.error({ err: error, reqId: request.id, url: request.url }, "request failed");
    return sendProblem(reply, e, request.url);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new NotFoundError(`no endpoint ${request.method} ${request.url.split("?")[0]}`, {
        fix: "see /v1/openapi.json for the endpoints",
      }),
      request.url,
    ),
  );

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    deps.metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    deps.metrics.duration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });

  // What a browser must not do with an answer: sniff a JSON error into HTML, or keep it in a cache.
  app.addHook("onSend", async (_request, reply, payload) => {
    void reply.header("x-content-type-options", "nosniff");
    if (!reply.hasHeader("cache-control")) void reply.header("cache-control", "no-store");
    return payload;
  });

  /** Authenticates a bearer token, spending one of the address's failures when it is refused. */
  async function authenticate(request: FastifyRequest, role: Role): Promise<Principal> {
    let principal: Principal;
    try {
      principal = await deps.authenticator.authenticate(request.headers.authorization);
    } catch (error) {
      if (error instanceof UnauthenticatedError) deps.authFailures.record(request.ip);
      throw error;
    }
    requireRole(principal.actor, role);
    return principal;
  }

  /**
   * The one way into a route: the address's failed-authentication budget, the caller and its role,
   * the command rate limit, and the whole request checked against the route's contract.
   */
  async function admit(route: Route, request: FastifyRequest, params: Record<string, string>): Promise<ApiRequest> {
    if (route.access !== "public") deps.authFailures.check(request.ip);
    const principal =
      route.access === "public" || route.access === "webhook" ? null : await authenticate(request, route.access);
    const actor = principal?.actor ?? null;
    if (route.command && actor) deps.rateLimiter.take(`${actor.kind}:${actor.id}`);
    const apiRequest = toApiRequest(request, actor, params, principal?.delegation?.channel);
    validateRequest(route, apiRequest);
    return apiRequest;
  }

  function toApiRequest(
    request: FastifyRequest,
    actor: Actor | null,
    params: Record<string, string>,
    channel?: ApprovalChannel,
  ): ApiRequest {
    return {
      params,
      query: (request.query ?? {}) as Record<string, unknown>,
      body: request.body,
      headers: headersOf(request),
      actor,
      rawBody: rawBodies.get(request),
      requestId: request.id,
      ...(channel === undefined ? {} : { channel }),
    };
  }

  async function run(route: Route, request: FastifyRequest, reply: FastifyReply, params: Record<string, string>) {
    const apiRequest = await admit(route, request, params);
    let response: Awaited<ReturnType<Route["handler"]>>;
    try {
      response = await route.handler(apiRequest);
    } catch (error) {
      // A webhook's handler checks the provider's credentials: a refusal there is a failed authentication too.
      if (route.access === "webhook" && error instanceof UnauthenticatedError) deps.authFailures.record(request.ip);
      throw error;
    }
    void reply.code(response.status);
    for (const [k, value] of Object.entries(response.headers ?? {})) void reply.header(k, value);
    if (response.body === undefined) return reply.send();
    // A streamed answer (the NDJSON export) goes out chunk by chunk as the client reads: never buffered whole.
    if (isStream(response.body)) return reply.send(Readable.from(response.body, { objectMode: false }));
    return reply.send(response.body);
  }

  // Open SSE streams, ended on stop so that shutdown does not wait on them.
  const streams = new Set<{ end(): void }>();
  app.addHook("preClose", async () => {
    for (const res of streams) res.end();
    streams.clear();
  });

  registerWebSocketPlugin(app);
  assertRouteContracts(deps.routes);
  const streamContext: StreamContext = { app, deps, admit, toApiRequest, open: streams };
  // Custom methods by the path before the parameter: the router cannot put a literal after a
  // parameter in one segment, so `{id}:verb` is one parameter here, split below.
  const customMethods = new Map<string, { method: Route["method"]; param: string; verbs: Map<string, Route> }>();

  for (const route of deps.routes) {
    if (route.stream === "sse") {
      serveSse(streamContext, route);
      continue;
    }
    if (route.stream === "websocket") {
      serveWebSocket(streamContext, route);
      continue;
    }
    const custom = CUSTOM_METHOD.exec(route.path);
    if (custom) {
      const [, base = "", param = "id", verb = ""] = custom;
      const key = `${route.method} ${base}`;
      const entry = customMethods.get(key) ?? { method: route.method, param, verbs: new Map<string, Route>() };
      entry.verbs.set(verb, route);
      customMethods.set(key, entry);
      continue;
    }
    app.route({
      method: route.method,
      url: toUrl(route.path),
      handler: (request, reply) => run(route, request, reply, (request.params ?? {}) as Record<string, string>),
    });
  }

  for (const [key, { method, param, verbs }] of customMethods) {
    const base = key.slice(method.length + 1);
    app.route({
      method,
      url: `${toUrl(base)}:target`,
      handler: (request, reply) => {
        const target = (request.params as { target: string }).target;
        const match = /^(.+):([\w-]+)$/.exec(target);
        const route = match?.[2] === undefined ? undefined : verbs.get(match[2]);
        if (!match?.[1] || !route) {
          return sendProblem(
            reply,
            new NotFoundError(`no endpoint ${method} ${base}${target}`, {
              fix: `the custom methods here are ${[...verbs.keys()].map((v) => `${method} ${base}{${param}}:${v}`).join(", ")}`,
            }),
            request.url,
          );
        }
        return run(route, request, reply, { [param]: match[1] });
      },
    });
  }

  // The audit trail only grows: no method changes or removes a record, and saying so beats a bare 404.
  app.route({
    method: ["DELETE", "PUT", "PATCH", "POST"],
    url: "/v1/audit/*",
    handler: (request, reply) => {
      void reply.header("allow", "GET");
      return sendProblem(
        reply,
        new MethodNotAllowedError(
          `${request.method} ${request.url.split("?")[0]}: the audit trail is append-only; no record can be changed or deleted`,
          { fix: "read it with GET /v1/audit/events or export it with GET /v1/audit/events.ndjson" },
        ),
        request.url,
      );
    },
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const health = await deps.health();
    return reply.code(health.ok ? 200 : 503).send({ status: health.ok ? "ready" : "not_ready", checks: health.checks });
  });
  app.get("/metrics", async (_request, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  app.get("/v1/openapi.json", async () => deps.openapi());
  for (const [path, document] of Object.entries(deps.publicDocuments ?? {})) app.get(path, async () => document());
  if (deps.console) registerConsole(app, deps.console);

  return {
    app,
    async start({ host, port }) {
      const address = await app.listen({ host, port });
      return address;
    },
    async stop() {
      await deps.hub.stop();
      await app.close();
    },
  };
}

/**
 * The HTTP transport: Fastify 5 mapping the transport-free routes, plus the
 * two endpoints that are streams by nature (WebSocket `/v1/ws`, SSE logs).
 * Everything HTTP-specific lives here: body parsing with UTF-8 and size
 * checks, problem+json rendering, metrics, security headers.
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
import websocket, { type WebSocket } from "@fastify/websocket";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import * as v from "valibot";
import type { Actor, Role } from "../../events/index.ts";
import { type Authenticator, requireRole } from "../../lib/auth/index.ts";
import {
  PayloadTooLargeError,
  RateLimitedError,
  toProblem,
  toWheelhouseError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  ValidationError,
  WheelhouseError,
} from "../../lib/errors/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { ClientMessageSchema } from "../../schemas/api/index.ts";
import { type ApiRequest, assertRouteContracts, type Route, validateRequest } from "./api.ts";
import type { LiveHub, OutputChunk } from "./live.ts";
import type { Metrics } from "./metrics.ts";
import type { FailureLimiter, RateLimiter } from "./rate-limit.ts";

export interface HttpTransportDeps {
  readonly routes: readonly Route[];
  readonly authenticator: Authenticator;
  readonly rateLimiter: RateLimiter;
  /** Failed authentications per client address (`gateway.auth_failures_per_minute`). */
  readonly authFailures: FailureLimiter;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly bodyLimitBytes: number;
  readonly hub: LiveHub;
  readonly openapi: () => unknown;
  readonly health: () => Promise<{ ok: boolean; checks: Record<string, string> }>;
  readonly followOutput: (
    executionId: string,
    fromSeq: number | undefined,
    onChunk: (chunk: OutputChunk) => void,
  ) => Promise<{ stop(): Promise<void> }>;
  /** Extra GET endpoints without auth (the dev issuer's documents). */
  readonly publicDocuments?: Readonly<Record<string, () => unknown>> | undefined;
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
const WS_PROTOCOL = "wheelhouse.v1";
/** Unsent SSE bytes after which a stalled client is disconnected (it resumes with Last-Event-ID). */
const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;

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
        return new WheelhouseError("bad_request", error.statusCode, error.message, {});
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
      new WheelhouseError("not_found", 404, `no endpoint ${request.method} ${request.url.split("?")[0]}`, {
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
  async function authenticate(request: FastifyRequest, role: Role): Promise<Actor> {
    let actor: Actor;
    try {
      ({ actor } = await deps.authenticator.authenticate(request.headers.authorization));
    } catch (error) {
      if (error instanceof UnauthenticatedError) deps.authFailures.record(request.ip);
      throw error;
    }
    requireRole(actor, role);
    return actor;
  }

  /**
   * The one way into a route: the address's failed-authentication budget, the caller and its role,
   * the command rate limit, and the whole request checked against the route's contract.
   */
  async function admit(route: Route, request: FastifyRequest, params: Record<string, string>): Promise<ApiRequest> {
    if (route.access !== "public") deps.authFailures.check(request.ip);
    const actor =
      route.access === "public" || route.access === "webhook" ? null : await authenticate(request, route.access);
    if (route.command && actor) deps.rateLimiter.take(`${actor.kind}:${actor.id}`);
    const apiRequest = toApiRequest(request, actor, params);
    validateRequest(route, apiRequest);
    return apiRequest;
  }

  function toApiRequest(request: FastifyRequest, actor: Actor | null, params: Record<string, string>): ApiRequest {
    return {
      params,
      query: (request.query ?? {}) as Record<string, unknown>,
      body: request.body,
      headers: headersOf(request),
      actor,
      rawBody: rawBodies.get(request),
      requestId: request.id,
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

  // Before any route: a WebSocket route is declared inside a plugin that needs it.
  void app.register(websocket, {
    options: {
      maxPayload: 64 * 1024,
      handleProtocols: (protocols: Set<string>) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });

  assertRouteContracts(deps.routes);
  const toUrl = (path: string) => path.replace(/\{(\w+)\}/g, ":$1");
  // Custom methods by the path before the parameter: the router cannot put a literal after a
  // parameter in one segment, so `{id}:verb` is one parameter here, split below.
  const customMethods = new Map<string, { method: Route["method"]; param: string; verbs: Map<string, Route> }>();

  for (const route of deps.routes) {
    if (route.stream === "sse") {
      serveSse(route);
      continue;
    }
    if (route.stream === "websocket") {
      serveWebSocket(route);
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
            new WheelhouseError("not_found", 404, `no endpoint ${method} ${base}${target}`, {
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
        new WheelhouseError(
          "method_not_allowed",
          405,
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

  /** SSE: the execution's tool output, resumable with Last-Event-ID; admitted like any route. */
  function serveSse(route: Route) {
    app.get(toUrl(route.path), async (request, reply) => {
      const admitted = await admit(route, request, (request.params ?? {}) as Record<string, string>);
      const id = admitted.params.id as string;
      // Checked by the route's header schema: digits only.
      const lastEventId = admitted.headers["last-event-id"];
      const fromSeq = lastEventId === undefined ? undefined : Number(lastEventId) + 1;
      await streamOutput(request, reply, id, fromSeq);
    });
  }

  async function streamOutput(request: FastifyRequest, reply: FastifyReply, id: string, fromSeq: number | undefined) {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(": connected\n\n");
    streams.add(res);
    let follower: { stop(): Promise<void> } | null = null;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      streams.delete(res);
      clearInterval(heartbeat);
      void follower?.stop();
      res.end();
    };
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
    follower = await deps.followOutput(id, fromSeq, (chunk) => {
      if (ended) return;
      // Like the WebSocket's slow-consumer close: a client that stops reading is let go (it resumes
      // with Last-Event-ID) rather than having the gateway buffer the output for it without bound.
      if (res.writableLength > SSE_MAX_BUFFERED_BYTES) {
        end();
        return;
      }
      res.write(`id: ${chunk.seq}\nevent: output\ndata: ${JSON.stringify(chunk.data)}\n\n`);
    });
    if (ended) void follower.stop();
    request.raw.on("close", end);
  }

  /**
   * The WebSocket: the handshake is admitted like any route (failed-authentication budget, query
   * checked against the contract) before the upgrade; the token may come in the handshake or as the
   * first message, and must carry the route's role.
   */
  function serveWebSocket(route: Route) {
    const role = route.access as Role;
    void app.register(async (scope) => {
      scope.get(
        toUrl(route.path),
        {
          websocket: true,
          preValidation: async (request) => {
            deps.authFailures.check(request.ip);
            validateRequest(route, toApiRequest(request, null, (request.params ?? {}) as Record<string, string>));
          },
        },
        (socket, request) => acceptWebSocket(socket, request, role),
      );
    });
  }

  function acceptWebSocket(socket: WebSocket, request: FastifyRequest, role: Role) {
    let actor: Actor | null = null;
    deps.metrics.wsClients.inc();
    const fail = (code: number, detail: string) => {
      socket.send(JSON.stringify({ type: "error", code: code === 4401 ? "unauthenticated" : "bad_request", detail }));
      if (code === 4401) socket.close(4401, "unauthenticated");
    };
    const authenticated = (a: Actor) => {
      actor = a;
      socket.send(JSON.stringify({ type: "ready", actor: a.id }));
    };
    const tryToken = async (token: string) => {
      try {
        deps.authFailures.check(request.ip);
        let a: Actor;
        try {
          ({ actor: a } = await deps.authenticator.verify(token));
        } catch (e) {
          if (e instanceof UnauthenticatedError) deps.authFailures.record(request.ip);
          throw e;
        }
        requireRole(a, role);
        authenticated(a);
      } catch (e) {
        fail(4401, toWheelhouseError(e).message);
      }
    };
    const protocolToken = (request.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((p) => p.trim())
      .find((p) => p.startsWith("bearer."))
      ?.slice("bearer.".length);
    const queryToken = (request.query as { access_token?: string }).access_token;
    const initial = protocolToken ?? queryToken;
    // Without a token in the handshake, the first message must be {type:"auth"} within 5 s.
    const authTimer = setTimeout(() => {
      if (!actor) fail(4401, "no credentials within 5 s");
    }, 5_000);
    const ready = initial ? tryToken(initial) : Promise.resolve();

    socket.on("message", (data: Buffer) => {
      void (async () => {
        await ready;
        let message: v.InferOutput<typeof ClientMessageSchema>;
        try {
          message = v.parse(ClientMessageSchema, JSON.parse(utf8.decode(data)));
        } catch (e) {
          fail(4400, `not a valid message: ${(e as Error).message}`);
          return;
        }
        if (message.type === "auth") {
          if (!actor) await tryToken(message.token);
          return;
        }
        if (!actor) {
          fail(4401, 'authenticate first: send {type:"auth", token}');
          return;
        }
        await deps.hub.subscribe(socket, message);
        socket.send(JSON.stringify({ type: "subscribed", topics: message.topics, cursor: message.cursor ?? null }));
      })().catch((e: unknown) => deps.logger.error({ err: e }, "websocket message failed"));
    });
    socket.on("close", () => {
      clearTimeout(authTimer);
      deps.metrics.wsClients.dec();
      void deps.hub.remove(socket);
    });
  }

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

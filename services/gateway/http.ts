/**
 * The HTTP transport: Fastify 5 mapping the transport-free routes, plus the
 * two endpoints that are streams by nature (WebSocket `/v1/ws`, SSE logs).
 * Everything HTTP-specific lives here: body parsing with UTF-8 and size
 * checks, problem+json rendering, metrics, authentication of each request.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import * as v from "valibot";
import type { Actor } from "../../events/index.ts";
import { type Authenticator, requireRole } from "../../lib/auth/index.ts";
import {
  PayloadTooLargeError,
  RateLimitedError,
  toProblem,
  toWheelhouseError,
  UnsupportedMediaTypeError,
  ValidationError,
  WheelhouseError,
} from "../../lib/errors/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { ClientMessageSchema, ExecutionIdParamsSchema } from "../../schemas/api/index.ts";
import { type ApiRequest, parseInput, type Route } from "./api.ts";
import type { LiveHub, OutputChunk } from "./live.ts";
import type { Metrics } from "./metrics.ts";
import type { RateLimiter } from "./rate-limit.ts";

export interface HttpTransportDeps {
  readonly routes: readonly Route[];
  readonly authenticator: Authenticator;
  readonly rateLimiter: RateLimiter;
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
/** Routes the table documents but this file serves by hand (custom method, SSE, WebSocket). */
const TRANSPORT_PATHS = new Set(["/v1/plans/{id}:execute", "/v1/executions/{id}/logs", "/v1/ws"]);

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

  async function authenticate(request: FastifyRequest, route: Route): Promise<Actor | null> {
    if (route.access === "public" || route.access === "webhook") return null;
    const { actor } = await deps.authenticator.authenticate(request.headers.authorization);
    requireRole(actor, route.access);
    return actor;
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
    const actor = await authenticate(request, route);
    if (route.command && actor) deps.rateLimiter.take(`${actor.kind}:${actor.id}`);
    const response = await route.handler(toApiRequest(request, actor, params));
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

  const routes = deps.routes;
  const byKey = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
  const executeRoute = byKey.get("POST /v1/plans/{id}:execute");

  for (const route of routes) {
    if (TRANSPORT_PATHS.has(route.path)) continue;
    const url = route.path.replace(/\{(\w+)\}/g, ":$1");
    app.route({
      method: route.method,
      url,
      handler: (request, reply) => run(route, request, reply, (request.params ?? {}) as Record<string, string>),
    });
  }

  // `/v1/plans/{id}:execute` (AIP-136 custom method): the router cannot put a
  // literal after a parameter in one segment, so the suffix is split here.
  app.post("/v1/plans/:target", (request, reply) => {
    const target = (request.params as { target: string }).target;
    const match = /^(.+):execute$/.exec(target);
    if (!match?.[1] || !executeRoute) {
      return sendProblem(
        reply,
        new WheelhouseError("not_found", 404, `no endpoint POST /v1/plans/${target}`, {
          fix: "to run a plan, POST /v1/plans/{id}:execute",
        }),
        request.url,
      );
    }
    return run(executeRoute, request, reply, { id: match[1] });
  });

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

  // SSE: the execution's tool output, resumable with Last-Event-ID.
  app.get("/v1/executions/:id/logs", async (request, reply) => {
    const logsRoute = byKey.get("GET /v1/executions/{id}/logs");
    if (logsRoute) await authenticate(request, logsRoute);
    const { id } = parseInput(ExecutionIdParamsSchema, request.params, "params");
    const lastEventId = request.headers["last-event-id"];
    let fromSeq: number | undefined;
    if (lastEventId !== undefined) {
      const n = Number(lastEventId);
      if (!Number.isInteger(n) || n < 0) {
        throw new ValidationError("Last-Event-ID must be the id of an event this stream sent", {
          field: "Last-Event-ID",
          fix: "send the last id: value you received, or omit the header",
        });
      }
      fromSeq = n + 1;
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
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
  });

  void app.register(websocket, {
    options: {
      maxPayload: 64 * 1024,
      handleProtocols: (protocols: Set<string>) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });
  void app.register(async (scope) => {
    scope.get("/v1/ws", { websocket: true }, (socket, request) => {
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
          const { actor: a } = await deps.authenticator.verify(token);
          requireRole(a, "viewer");
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
    });
  });

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

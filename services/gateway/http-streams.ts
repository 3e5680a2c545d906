/**
 * The two routes that are streams by nature: the SSE tool output and the WebSocket of live updates.
 * Both are declared in the route table (`stream: "sse" | "websocket"`) and served only from there,
 * through the transport's `admit` (SSE) or its checks before the upgrade (WebSocket): neither can be
 * served without authentication.
 */
import websocket, { type WebSocket } from "@fastify/websocket";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as v from "valibot";
import type { Actor, Role } from "../../events/index.ts";
import { type Authenticator, type Principal, requireRole } from "../../lib/auth/index.ts";
import { toWheelhouseError, UnauthenticatedError } from "../../lib/errors/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { ClientMessageSchema } from "../../schemas/api/index.ts";
import { type ApiRequest, type Route, validateRequest } from "./api.ts";
import type { LiveHub, LiveMessage, LiveSocket, OutputChunk } from "./live.ts";
import type { Metrics } from "./metrics.ts";
import type { FailureLimiter } from "./rate-limit.ts";

export interface StreamDeps {
  readonly authenticator: Authenticator;
  readonly authFailures: FailureLimiter;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly hub: LiveHub;
  readonly followOutput: (
    executionId: string,
    fromSeq: number | undefined,
    onChunk: (chunk: OutputChunk) => void,
  ) => Promise<{ stop(): Promise<void> }>;
}

export interface StreamContext {
  readonly app: FastifyInstance;
  readonly deps: StreamDeps;
  /** The transport's one way into a route. */
  readonly admit: (route: Route, request: FastifyRequest, params: Record<string, string>) => Promise<ApiRequest>;
  readonly toApiRequest: (request: FastifyRequest, actor: Actor | null, params: Record<string, string>) => ApiRequest;
  /** Open SSE responses, ended when the transport stops. */
  readonly open: Set<{ end(): void }>;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const WS_PROTOCOL = "wheelhouse.v1";
const TOKEN_EXPIRED =
  'the token has expired: sign in again, or send {type:"auth", token} with a fresh token before it expires';
/** Unsent SSE bytes after which a stalled client is disconnected (it resumes with Last-Event-ID). */
const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;

/** `/v1/plans/{id}` → `/v1/plans/:id` (the router's syntax). */
export const toUrl = (path: string) => path.replace(/\{(\w+)\}/g, ":$1");

/** The WebSocket plugin, registered before any route: a WebSocket route is declared inside a plugin that needs it. */
export function registerWebSocketPlugin(app: FastifyInstance): void {
  void app.register(websocket, {
    options: {
      maxPayload: 64 * 1024,
      handleProtocols: (protocols: Set<string>) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });
}

/** SSE: the execution's tool output, resumable with Last-Event-ID; admitted like any route. */
export function serveSse(ctx: StreamContext, route: Route): void {
  ctx.app.get(toUrl(route.path), async (request, reply) => {
    const admitted = await ctx.admit(route, request, (request.params ?? {}) as Record<string, string>);
    const id = admitted.params.id as string;
    // Checked by the route's header schema: digits only.
    const lastEventId = admitted.headers["last-event-id"];
    const fromSeq = lastEventId === undefined ? undefined : Number(lastEventId) + 1;
    await streamOutput(ctx, request, reply, id, fromSeq);
  });
}

async function streamOutput(
  { deps, open }: StreamContext,
  request: FastifyRequest,
  reply: FastifyReply,
  id: string,
  fromSeq: number | undefined,
) {
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
  open.add(res);
  let follower: { stop(): Promise<void> } | null = null;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    open.delete(res);
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
export function serveWebSocket(ctx: StreamContext, route: Route): void {
  const role = route.access as Role;
  void ctx.app.register(async (scope) => {
    scope.get(
      toUrl(route.path),
      {
        websocket: true,
        preValidation: async (request) => {
          ctx.deps.authFailures.check(request.ip);
          validateRequest(route, ctx.toApiRequest(request, null, (request.params ?? {}) as Record<string, string>));
        },
      },
      (socket, request) => acceptWebSocket(ctx.deps, socket, request, role),
    );
  });
}

/**
 * ws's internals that a broadcast needs: the connection under the WebSocket (`_socket`) and the
 * state of its sender (0: not busy with a message of its own). Writing one pre-built frame to every
 * `_socket` is how ws's maintainers suggest broadcasting (websockets/ws#617); ws has no public API for it.
 */
interface FramedSocket {
  readonly _socket?: { cork(): void; uncork(): void; write(chunk: Buffer): boolean } | null;
  readonly _sender?: { readonly _state?: number } | null;
}

/**
 * The hub's view of one ws WebSocket. A live event is sent as the frame the hub built once for
 * every client, written straight to the connection (one write for all the messages of a batch);
 * when ws could be in the middle of a message of its own (compressing one), the messages go
 * through `send` instead, which queues behind it.
 */
export function liveSocket(socket: WebSocket): LiveSocket {
  const framed = socket as unknown as FramedSocket;
  return {
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get readyState() {
      return socket.readyState;
    },
    sendMessages(messages: readonly LiveMessage[]) {
      const raw = framed._socket;
      if (!raw || framed._sender?._state !== 0) {
        for (const message of messages) socket.send(message.text);
        return;
      }
      if (messages.length === 1) {
        raw.write((messages[0] as LiveMessage).frame);
        return;
      }
      raw.cork();
      for (const message of messages) raw.write(message.frame);
      raw.uncork();
    },
    close: (code, reason) => socket.close(code, reason),
  };
}

function acceptWebSocket(deps: StreamDeps, socket: WebSocket, request: FastifyRequest, role: Role) {
  let actor: Actor | null = null;
  const live = liveSocket(socket);
  deps.metrics.wsClients.inc();
  const fail = (code: number, detail: string) => {
    socket.send(JSON.stringify({ type: "error", code: code === 4401 ? "unauthenticated" : "bad_request", detail }));
    if (code === 4401) socket.close(4401, "unauthenticated");
  };
  // The socket lives no longer than its token: at `exp` it is closed with 4401, unless the client
  // has sent a fresh token for the same person over it ({type:"auth"} again) before then.
  let expiry: ReturnType<typeof setTimeout> | undefined;
  const authenticated = (principal: Principal) => {
    if (actor && actor.id !== principal.actor.id) {
      fail(4401, `this socket is ${actor.id}'s; a token for ${principal.actor.id} needs a socket of its own`);
      return;
    }
    actor = principal.actor;
    clearTimeout(expiry);
    const exp = principal.claims.exp;
    if (typeof exp === "number") {
      expiry = setTimeout(
        () => {
          socket.send(JSON.stringify({ type: "error", code: "unauthenticated", detail: TOKEN_EXPIRED }));
          socket.close(4401, "token expired");
        },
        Math.max(0, exp * 1000 - Date.now()),
      );
      // The socket's own close clears it; alone it must not hold a stopping process open.
      expiry.unref();
    }
    socket.send(JSON.stringify({ type: "ready", actor: principal.actor.id }));
  };
  const tryToken = async (token: string) => {
    try {
      deps.authFailures.check(request.ip);
      let principal: Principal;
      try {
        principal = await deps.authenticator.verify(token);
      } catch (e) {
        if (e instanceof UnauthenticatedError) deps.authFailures.record(request.ip);
        throw e;
      }
      requireRole(principal.actor, role);
      authenticated(principal);
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
        await tryToken(message.token);
        return;
      }
      if (!actor) {
        fail(4401, 'authenticate first: send {type:"auth", token}');
        return;
      }
      await deps.hub.subscribe(live, message);
      socket.send(JSON.stringify({ type: "subscribed", topics: message.topics, cursor: message.cursor ?? null }));
    })().catch((e: unknown) => deps.logger.error({ err: e }, "websocket message failed"));
  });
  socket.on("close", () => {
    clearTimeout(authTimer);
    clearTimeout(expiry);
    deps.metrics.wsClients.dec();
    void deps.hub.remove(live);
  });
}

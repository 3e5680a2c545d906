/**
 * Live updates over `/v1/ws`: one socket, authenticated with the first message (the token never goes
 * into a URL), one subscription at a time (the screen's). Every event's `seq` is kept as the resume
 * cursor: after a drop or a token expiry (the gateway closes the socket then), delivery resumes
 * right after the last event seen, so nothing is missed and nothing is polled.
 */
import type { WsClientMessage, WsServerMessage } from "./api/client";

type Subscribe = Extract<WsClientMessage, { type: "subscribe" }>;
export type Topic = Subscribe["topics"][number];
export type LiveEvent = Extract<WsServerMessage, { type: "event" }>;
export type LiveState = "connecting" | "live" | "offline" | "signed-out";

export interface Subscription {
  readonly topics: readonly Topic[];
  readonly filters?: { plan_id?: string; execution_id?: string; service?: string };
  readonly onEvent: (event: LiveEvent) => void;
  /** After a reconnect with no event seen yet (no cursor to resume from): read the data again. */
  readonly onResync?: () => void;
}

export type Live = ReturnType<typeof createLive>;

export function createLive(token: () => Promise<string | null>) {
  let socket: WebSocket | null = null;
  let subscription: Subscription | null = null;
  let cursor: number | null = null;
  let state: LiveState = "signed-out";
  let retry = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let wanted = false;
  /** Whether this session's socket has been live before: a later `ready` is a reconnect. */
  let wasLive = false;
  /** A refreshed token was sent over the open socket; its `ready` is not a new connection. */
  let reauthenticating = false;
  const listeners = new Set<(state: LiveState) => void>();

  const setState = (next: LiveState) => {
    if (next === state) return;
    state = next;
    for (const listener of listeners) listener(state);
  };

  function send(message: WsClientMessage) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function sendSubscription() {
    if (!subscription || state !== "live") return;
    send({
      type: "subscribe",
      topics: [...subscription.topics],
      filters: { ...subscription.filters },
      ...(cursor === null ? {} : { cursor }),
    });
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    if (!wanted) return;
    // Backs off to 10 s; a reconnect resumes from the cursor, so waiting loses nothing.
    const delay = Math.min(10_000, 500 * 2 ** retry);
    retry += 1;
    retryTimer = setTimeout(() => void connect(), delay);
  }

  async function connect() {
    if (!wanted || socket) return;
    const bearer = await token();
    if (!bearer) {
      setState("signed-out");
      return;
    }
    setState("connecting");
    const url = new URL("/v1/ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url, ["wheelhouse.v1"]);
    socket = ws;
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: bearer })));
    ws.addEventListener("message", (message) => {
      let data: WsServerMessage;
      try {
        data = JSON.parse(String(message.data)) as WsServerMessage;
      } catch {
        return;
      }
      if (data.type === "ready" && reauthenticating) {
        // The answer to a refreshed token on this socket: the subscription goes on as it was.
        reauthenticating = false;
      } else if (data.type === "ready") {
        const reconnected = wasLive;
        wasLive = true;
        retry = 0;
        setState("live");
        sendSubscription();
        if (reconnected && cursor === null) subscription?.onResync?.();
      } else if (data.type === "event") {
        cursor = Math.max(cursor ?? 0, data.seq);
        subscription?.onEvent(data);
      }
    });
    ws.addEventListener("close", () => {
      if (socket === ws) socket = null;
      reauthenticating = false;
      if (!wanted) return;
      setState("offline");
      scheduleReconnect();
    });
  }

  return {
    get state(): LiveState {
      return state;
    },
    onState(listener: (state: LiveState) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Opens the socket (after sign-in). */
    start() {
      wanted = true;
      retry = 0;
      void connect();
    },
    /**
     * Hands the open socket the refreshed token: the gateway closes a socket at its token's expiry
     * unless a fresh token for the same person arrives over it first.
     */
    async reauthenticate() {
      const bearer = await token();
      if (!bearer || state !== "live") return;
      reauthenticating = true;
      send({ type: "auth", token: bearer });
    },
    /** Closes the socket (sign-out, or the session ended). */
    stop() {
      wanted = false;
      wasLive = false;
      clearTimeout(retryTimer);
      socket?.close(1000, "signed out");
      socket = null;
      setState("signed-out");
    },
    /**
     * The screen's subscription, replacing the previous one from now on (the screen reads its data
     * after subscribing, so an event during that read still arrives); a reconnect resumes it from
     * the cursor.
     */
    subscribe(next: Subscription | null) {
      subscription = next;
      cursor = null;
      if (next) sendSubscription();
    },
  };
}

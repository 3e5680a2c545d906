/**
 * Live updates: WebSocket subscriptions to `plan.updated`,
 * `execution.updated` and `audit.created`, and tool output for SSE.
 *
 * New subscribers share one ordered consumer on the events stream; a
 * subscriber that resumes from a cursor gets its own ordered consumer from
 * the sequence after it, so it misses nothing that happened while it was
 * away. A subscriber that does not read fast enough is closed (1013) once its
 * unsent data exceeds a bound, instead of being buffered without limit.
 */
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { Consumption, EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type { SubscribeMessage, Topic } from "../../schemas/api/index.ts";

/** The part of a WebSocket the hub uses (ws's WebSocket has it). */
export interface LiveSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export const CLOSE_SLOW_CONSUMER = 1013;
const OPEN = 1;

export interface LiveHub {
  /** Replaces the client's subscription; resolves once delivery is set up. */
  subscribe(socket: LiveSocket, subscription: SubscribeMessage): Promise<void>;
  remove(socket: LiveSocket): Promise<void>;
  readonly size: number;
  stop(): Promise<void>;
}

interface Client {
  socket: LiveSocket;
  topics: ReadonlySet<Topic>;
  filters: SubscribeMessage["filters"];
  /** Own consumer when resuming from a cursor; otherwise fed by the shared one. */
  own: Consumption | null;
}

function topicsOf(event: AnyRecordedEvent): Topic[] {
  const topics: Topic[] = ["audit.created"];
  if (event.aggregate_type === "plan") topics.unshift("plan.updated");
  if (event.aggregate_type === "execution") topics.unshift("execution.updated");
  return topics;
}

function payloadField(event: AnyRecordedEvent, name: string): unknown {
  return (event.payload as Record<string, unknown>)[name];
}

function matches(event: AnyRecordedEvent, filters: SubscribeMessage["filters"]): boolean {
  if (filters.plan_id !== undefined) {
    const own = event.aggregate_type === "plan" && event.aggregate_id === filters.plan_id;
    if (!own && payloadField(event, "plan_id") !== filters.plan_id) return false;
  }
  if (filters.execution_id !== undefined) {
    const own = event.aggregate_type === "execution" && event.aggregate_id === filters.execution_id;
    if (!own && payloadField(event, "execution_id") !== filters.execution_id) return false;
  }
  if (filters.service !== undefined) {
    const steps = payloadField(event, "steps");
    const inSteps =
      Array.isArray(steps) &&
      steps.some((s) => (s as { target?: { service?: string } })?.target?.service === filters.service);
    if (payloadField(event, "service") !== filters.service && !inSteps) return false;
  }
  return true;
}

/** One serialized message per (event, topic), shared by every client that gets it. */
function serializer(event: AnyRecordedEvent) {
  const cache = new Map<Topic, string>();
  return (topic: Topic) => {
    let text = cache.get(topic);
    if (text === undefined) {
      text = JSON.stringify({
        type: "event",
        topic,
        seq: event.seq,
        event: {
          id: event.id,
          type: event.type,
          aggregate_type: event.aggregate_type,
          aggregate_id: event.aggregate_id,
          occurred_at: event.occurred_at,
          actor: event.actor,
          correlation_id: event.correlation_id,
          payload: event.payload,
        },
      });
      cache.set(topic, text);
    }
    return text;
  };
}

export function createLiveHub(deps: {
  store: EventStore;
  logger: Logger;
  maxBufferedBytes: number;
  onDropped?: () => void;
}): LiveHub {
  const clients = new Map<LiveSocket, Client>();
  let shared: Consumption | null = null;
  let sharedStarting: Promise<void> | null = null;

  function deliver(client: Client, event: AnyRecordedEvent, text: (t: Topic) => string): void {
    if (client.socket.readyState !== OPEN) return;
    if (!matches(event, client.filters)) return;
    for (const topic of topicsOf(event)) {
      if (!client.topics.has(topic)) continue;
      if (client.socket.bufferedAmount > deps.maxBufferedBytes) {
        deps.onDropped?.();
        deps.logger.warn({ buffered: client.socket.bufferedAmount }, "closing a slow WebSocket subscriber");
        client.socket.close(CLOSE_SLOW_CONSUMER, "slow consumer: reconnect with your last cursor");
        void remove(client.socket);
        return;
      }
      client.socket.send(text(topic));
    }
  }

  async function ensureShared(): Promise<void> {
    if (shared) return;
    sharedStarting ??= deps.store
      .subscribeLive({
        handler: (event) => {
          const text = serializer(event);
          for (const client of clients.values()) if (!client.own) deliver(client, event, text);
        },
      })
      .then((c) => {
        shared = c;
      });
    await sharedStarting;
  }

  async function remove(socket: LiveSocket): Promise<void> {
    const client = clients.get(socket);
    if (!client) return;
    clients.delete(socket);
    await client.own?.stop().catch(() => undefined);
  }

  return {
    get size() {
      return clients.size;
    },
    async subscribe(socket, subscription) {
      await remove(socket);
      const client: Client = {
        socket,
        topics: new Set(subscription.topics),
        filters: subscription.filters,
        own: null,
      };
      if (subscription.cursor !== undefined) {
        client.own = await deps.store.subscribeLive({
          fromSeq: subscription.cursor + 1,
          handler: (event) => deliver(client, event, serializer(event)),
        });
      } else {
        await ensureShared();
      }
      clients.set(socket, client);
    },
    remove,
    async stop() {
      for (const socket of [...clients.keys()]) await remove(socket);
      await shared?.stop().catch(() => undefined);
      shared = null;
      sharedStarting = null;
    },
  };
}

export interface OutputChunk {
  readonly seq: number;
  readonly data: unknown;
}

/**
 * Follows an execution's tool output on `<PREFIX>_OUTPUT` from a stream
 * sequence (SSE `Last-Event-ID` + 1), with an ordered consumer.
 */
export async function followOutput(opts: {
  nc: NatsConnection;
  stream: string;
  subject: string;
  fromSeq: number | undefined;
  onChunk: (chunk: OutputChunk) => void;
}): Promise<{ stop(): Promise<void> }> {
  const js = jetstream(opts.nc);
  const consumer = await js.consumers.get(opts.stream, {
    filter_subjects: [opts.subject],
    ...(opts.fromSeq === undefined
      ? { deliver_policy: "all" as never }
      : { deliver_policy: "by_start_sequence" as never, opt_start_seq: opts.fromSeq }),
  });
  const messages = await consumer.consume({ max_messages: 256 });
  const done = (async () => {
    for await (const m of messages) {
      let data: unknown;
      try {
        data = (JSON.parse(new TextDecoder().decode(m.data)) as { payload?: unknown }).payload;
      } catch {
        continue;
      }
      opts.onChunk({ seq: m.seq, data });
    }
  })();
  return {
    async stop() {
      await messages.close();
      await done.catch(() => undefined);
    },
  };
}

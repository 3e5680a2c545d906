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

/**
 * One message of the live feed, serialised once per (event, topic) and shared by every client that
 * gets it: its JSON text and the same text as a WebSocket frame (RFC 6455 §5.2, unmasked, as a
 * server sends it), so that a transport that can write frames sends the same bytes to every client.
 */
export interface LiveMessage {
  readonly text: string;
  readonly frame: Buffer;
}

/** The part of a WebSocket the hub uses (the transport adapts ws's WebSocket to it). */
export interface LiveSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  /** Sends the messages in order, as few writes as the transport can. */
  sendMessages(messages: readonly LiveMessage[]): void;
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

/** `text` as one unmasked, final WebSocket text frame. */
export function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, "utf8");
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + n);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (n < 126) {
    frame[1] = n;
  } else if (n < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(frame, headerLength);
  return frame;
}

/** An event with its topics worked out once and its messages serialised on first use. */
interface Prepared {
  readonly event: AnyRecordedEvent;
  readonly topics: readonly Topic[];
  message(topic: Topic): LiveMessage;
}

function prepare(event: AnyRecordedEvent): Prepared {
  const cache = new Map<Topic, LiveMessage>();
  return {
    event,
    topics: topicsOf(event),
    message(topic) {
      let message = cache.get(topic);
      if (message === undefined) {
        const text = JSON.stringify({
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
        message = { text, frame: textFrame(text) };
        cache.set(topic, message);
      }
      return message;
    },
  };
}

/**
 * Collects the events a consumer delivers in one turn of the event loop and hands them over
 * together: when events come faster than they are sent (a burst, a busy machine), each client gets
 * one write for all of them instead of one per event, so falling behind does not make it worse.
 */
function batcher(deliver: (events: readonly Prepared[]) => void) {
  let pending: AnyRecordedEvent[] = [];
  let scheduled: NodeJS.Immediate | null = null;
  const flush = () => {
    scheduled = null;
    const events = pending;
    pending = [];
    deliver(events.map(prepare));
  };
  return {
    push(event: AnyRecordedEvent) {
      pending.push(event);
      scheduled ??= setImmediate(flush);
    },
    cancel() {
      if (scheduled) clearImmediate(scheduled);
      scheduled = null;
      pending = [];
    },
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
  const sharedBatch = batcher((events) => {
    for (const client of clients.values()) if (!client.own) deliver(client, events);
  });

  function deliver(client: Client, events: readonly Prepared[]): void {
    if (client.socket.readyState !== OPEN) return;
    const messages: LiveMessage[] = [];
    for (const prepared of events) {
      if (!matches(prepared.event, client.filters)) continue;
      for (const topic of prepared.topics) if (client.topics.has(topic)) messages.push(prepared.message(topic));
    }
    if (messages.length === 0) return;
    if (client.socket.bufferedAmount > deps.maxBufferedBytes) {
      deps.onDropped?.();
      deps.logger.warn({ buffered: client.socket.bufferedAmount }, "closing a slow WebSocket subscriber");
      client.socket.close(CLOSE_SLOW_CONSUMER, "slow consumer: reconnect with your last cursor");
      void remove(client.socket);
      return;
    }
    client.socket.sendMessages(messages);
  }

  async function ensureShared(): Promise<void> {
    if (shared) return;
    sharedStarting ??= deps.store.subscribeLive({ handler: sharedBatch.push }).then((c) => {
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
        const own = batcher((events) => deliver(client, events));
        const consumption = await deps.store.subscribeLive({ fromSeq: subscription.cursor + 1, handler: own.push });
        client.own = {
          ...consumption,
          async stop() {
            own.cancel();
            await consumption.stop();
          },
        };
      } else {
        await ensureShared();
      }
      clients.set(socket, client);
    },
    remove,
    async stop() {
      for (const socket of [...clients.keys()]) await remove(socket);
      await shared?.stop().catch(() => undefined);
      sharedBatch.cancel();
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

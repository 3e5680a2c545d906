/**
 * Consumers: durable pull consumers with explicit ack, bounded redelivery and
 * dead letters (for services reacting to events), ordered consumers (live
 * fan-out, replay and read-model projection, where the position is kept by
 * the reader itself).
 */
import {
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos, headers as natsHeaders } from "@nats-io/transport-node";
import {
  type AnyRecordedEvent,
  aggregatesOf,
  type EventType,
  isEventType,
  storableText,
  UnknownEventTypeError,
} from "../../events/index.ts";
import { ValidationError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { decodeRecorded } from "./codec.ts";
import type { StreamNames } from "./streams.ts";

export interface ConsumerContext {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager | null;
  readonly prefix: string;
  readonly names: StreamNames;
  readonly logger?: Logger | undefined;
}

/**
 * Why an event was set aside. `store_failed`: even its dead-letter record could not be stored as
 * it was (the projector's last resort), so Postgres holds where it is and its digest, not its bytes.
 */
export type DeadLetterReason = "decode_error" | "handler_failed" | "max_deliveries" | "store_failed";

/** A poison event, as recorded on `<PREFIX>_DLQ` and handed to `onDeadLetter`. */
export interface DeadLetter {
  readonly consumer: string;
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly reason: DeadLetterReason;
  readonly error: string;
  readonly deliveries: number;
  readonly eventId: string | null;
  readonly eventType: string | null;
  /** The original message body. */
  readonly data: Uint8Array;
}

export interface ConsumeOptions {
  /** Durable consumer name: letters, digits, `-` and `_`. Several processes with one name share the work. */
  readonly durable: string;
  /** Only these event types reach the handler (others are acknowledged and skipped). */
  readonly filterTypes?: readonly EventType[] | undefined;
  readonly handler: (event: AnyRecordedEvent) => Promise<void>;
  /** Attempts before an event is dead-lettered; default 5. */
  readonly maxDeliver?: number | undefined;
  /** Delay before attempt n+1 (last value repeats); default [1 s, 5 s, 30 s]. */
  readonly backoffMs?: readonly number[] | undefined;
  /** Messages pulled ahead; default 100. */
  readonly batch?: number | undefined;
  /**
   * How long one handler call may run; default 15 minutes. A call still running then counts as a
   * failed attempt (retried with backoff, dead-lettered after the last) and the consumer moves on:
   * handlers are idempotent, and one that hangs must not hold the stream behind it for ever (the
   * heartbeat would keep it leased indefinitely).
   */
  readonly handlerTimeoutMs?: number | undefined;
  /** Where a new consumer starts: `all` (default), `new`, or a sequence. */
  readonly deliverFrom?: "all" | "new" | { readonly seq: number } | undefined;
  /** Called after a dead letter is recorded on the DLQ stream (e.g. to record it in Postgres too). */
  readonly onDeadLetter?: ((letter: DeadLetter) => Promise<void>) | undefined;
}

export interface Consumption {
  /** Stops pulling, lets the event in hand finish and acknowledges it, hands back what was pulled ahead. */
  stop(): Promise<void>;
  /** Resolves when the consumer stops (by `stop()` or an error). */
  readonly done: Promise<void>;
}

export interface LiveOptions {
  /** First stream sequence to deliver; default: only new events. */
  readonly fromSeq?: number | undefined;
  readonly filterTypes?: readonly EventType[] | undefined;
  readonly handler: (event: AnyRecordedEvent) => Promise<void> | void;
}

export interface ReadStreamOptions {
  readonly fromSeq?: number | undefined;
  readonly upToSeq?: number | undefined;
  /** Stop after the last event stored at or before this ISO 8601 time. */
  readonly upToTime?: string | undefined;
  /** Events per yielded batch; default 1000. */
  readonly batchSize?: number | undefined;
}

const DEFAULT_BACKOFF_MS = [1000, 5000, 30_000] as const;
const DEFAULT_HANDLER_TIMEOUT_MS = 15 * 60_000;

/** A handler call that did not settle within `handlerTimeoutMs`. */
class HandlerTimeoutError extends Error {
  constructor(ms: number) {
    super(`handler did not finish within ${ms} ms`);
    this.name = "HandlerTimeoutError";
  }
}

/** `promise`, or a `HandlerTimeoutError` after `ms`; the promise itself is left to settle on its own. */
async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HandlerTimeoutError(ms)), ms);
  });
  // A late failure of an abandoned call must not become an unhandled rejection.
  promise.catch(() => {});
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function filterSubjects(prefix: string, types: readonly EventType[] | undefined): string[] | undefined {
  if (!types || types.length === 0) return undefined;
  const aggs = new Set(types.flatMap((t) => aggregatesOf(t)));
  return [...aggs].sort().map((a) => `${prefix}.evt.${a}.>`);
}

export async function startConsumer(ctx: ConsumerContext, opts: ConsumeOptions): Promise<Consumption> {
  const { nc, prefix, names, logger } = ctx;
  const jsm = ctx.jsm as JetStreamManager;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(opts.durable)) {
    throw new ValidationError(`invalid durable consumer name ${JSON.stringify(opts.durable)}`, {
      field: "durable",
      fix: "use 1-64 letters, digits, '-' or '_'",
    });
  }
  for (const t of opts.filterTypes ?? []) {
    if (!isEventType(t)) throw new ValidationError(`unknown event type ${t}`, { field: "filterTypes" });
  }
  const maxDeliver = opts.maxDeliver ?? 5;
  const backoffMs = opts.backoffMs && opts.backoffMs.length > 0 ? opts.backoffMs : DEFAULT_BACKOFF_MS;
  const stream = names.events;
  const wanted: Partial<ConsumerConfig> = {
    durable_name: opts.durable,
    ack_policy: "explicit" as ConsumerConfig["ack_policy"],
    // One more than our attempts: the extra delivery lets us dead-letter an
    // event whose handler crashed the process every time, instead of the
    // server silently giving up on it.
    max_deliver: maxDeliver + 1,
    // Redelivery after an ack timeout (crashed or stuck handler) follows the same backoff.
    backoff: backoffMs.slice(0, maxDeliver).map((ms) => nanos(ms)),
    max_ack_pending: 1000,
  };
  const subjects = filterSubjects(prefix, opts.filterTypes);
  if (subjects) wanted.filter_subjects = subjects;
  await ensureConsumer(jsm, stream, wanted, opts.deliverFrom ?? "all");

  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, opts.durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: opts.batch ?? 100 });
  const filter = opts.filterTypes ? new Set<string>(opts.filterTypes) : null;
  const heartbeatMs = Math.max(100, Math.floor((backoffMs[0] ?? 1000) / 2));
  const handlerTimeoutMs = opts.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
  let stopping = false;

  async function deadLetter(m: JsMsg, reason: DeadLetterReason, error: unknown, event?: AnyRecordedEvent) {
    const letter: DeadLetter = {
      consumer: opts.durable,
      stream,
      seq: m.seq,
      subject: m.subject,
      reason,
      error: describe(error),
      deliveries: m.info.deliveryCount,
      eventId: event?.id ?? null,
      eventType: event?.type ?? null,
      data: m.data,
    };
    await publishDeadLetter(nc, prefix, letter);
    await opts.onDeadLetter?.(letter);
    logger?.error({ dead_letter: { ...letter, data: undefined } }, "event dead-lettered");
  }

  async function handle(m: JsMsg) {
    let event: AnyRecordedEvent;
    try {
      event = decodeRecorded(m.data, { seq: m.seq, stream, subject: m.subject });
    } catch (e) {
      if (e instanceof UnknownEventTypeError) {
        // A newer producer's event: not poison, just not ours to understand.
        logger?.warn({ seq: m.seq, type: e.eventType }, "skipping event of unknown type");
        m.ack();
        return;
      }
      await deadLetter(m, "decode_error", e);
      m.term("decode_error");
      return;
    }
    if (filter && !filter.has(event.type)) {
      m.ack();
      return;
    }
    if (m.info.deliveryCount > maxDeliver) {
      await deadLetter(m, "max_deliveries", "handler did not finish within the allowed deliveries", event);
      m.term("max_deliveries");
      return;
    }
    const beat = setInterval(() => m.working(), heartbeatMs);
    try {
      await withTimeout(opts.handler(event), handlerTimeoutMs);
      m.ack();
    } catch (e) {
      if (m.info.deliveryCount >= maxDeliver) {
        await deadLetter(m, "handler_failed", e, event);
        m.term("handler_failed");
      } else {
        const delay = backoffMs[Math.min(m.info.deliveryCount - 1, backoffMs.length - 1)] ?? 1000;
        logger?.warn({ seq: m.seq, type: event.type, err: describe(e), delay_ms: delay }, "handler failed; retrying");
        m.nak(delay);
      }
    } finally {
      clearInterval(beat);
    }
  }

  const done = (async () => {
    for await (const m of messages) {
      if (stopping) {
        // Pulled ahead but not started: hand it back at once instead of waiting for the ack timeout.
        m.nak();
        continue;
      }
      try {
        await handle(m);
      } catch (e) {
        // Recording the dead letter failed (NATS down?): leave the event for redelivery, never drop it.
        logger?.error({ seq: m.seq, err: describe(e) }, "could not handle or dead-letter event; will be redelivered");
        m.nak(backoffMs[0] ?? 1000);
      }
    }
  })();

  return {
    done,
    async stop() {
      stopping = true;
      await messages.close();
      await done;
    },
  };
}

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  wanted: Partial<ConsumerConfig>,
  from: NonNullable<ConsumeOptions["deliverFrom"]>,
) {
  const name = wanted.durable_name as string;
  const existing = await jsm.consumers.info(stream, name).catch((e: unknown) => {
    if ((e as { code?: number }).code === 10014 || (e as Error).name === "ConsumerNotFoundError") return null;
    throw e;
  });
  if (existing === null) {
    const start: Partial<ConsumerConfig> =
      from === "all"
        ? { deliver_policy: "all" as ConsumerConfig["deliver_policy"] }
        : from === "new"
          ? { deliver_policy: "new" as ConsumerConfig["deliver_policy"] }
          : { deliver_policy: "by_start_sequence" as ConsumerConfig["deliver_policy"], opt_start_seq: from.seq };
    try {
      await jsm.consumers.add(stream, { ...wanted, ...start });
      return;
    } catch (e) {
      // Created concurrently by another instance: update it below.
      if ((e as { code?: number }).code !== 10148) throw e;
    }
  }
  await jsm.consumers.update(stream, name, {
    max_deliver: wanted.max_deliver,
    backoff: wanted.backoff,
    max_ack_pending: wanted.max_ack_pending,
    ...(wanted.filter_subjects ? { filter_subjects: wanted.filter_subjects } : {}),
  });
}

export async function publishDeadLetter(nc: NatsConnection, prefix: string, letter: DeadLetter): Promise<void> {
  const js = jetstream(nc);
  const h = natsHeaders();
  h.set("Wh-Dlq-Consumer", letter.consumer);
  h.set("Wh-Dlq-Stream", letter.stream);
  h.set("Wh-Dlq-Seq", String(letter.seq));
  h.set("Wh-Dlq-Subject", letter.subject);
  h.set("Wh-Dlq-Reason", letter.reason);
  h.set("Wh-Dlq-Deliveries", String(letter.deliveries));
  // A header value is one line of text: no control characters (an error may quote the event's own).
  h.set("Wh-Dlq-Error", storableText(letter.error.replace(/\p{Cc}+/gu, " ").slice(0, 1000)));
  if (letter.eventId) h.set("Wh-Dlq-Event-Id", letter.eventId);
  if (letter.eventType) h.set("Wh-Dlq-Event-Type", letter.eventType);
  // One dead letter per consumer and sequence, even if recorded twice (crash between record and term).
  await js.publish(`${prefix}.dlq.${letter.consumer}`, letter.data, {
    headers: h,
    msgID: `${letter.consumer}:${letter.stream}:${letter.seq}`,
  });
}

/** Dead letters recorded for a consumer (or all), oldest first. */
export async function listDeadLetters(
  jsm: JetStreamManager,
  prefix: string,
  names: StreamNames,
  consumer?: string,
): Promise<DeadLetter[]> {
  const info = await jsm.streams.info(names.dlq);
  if (info.state.messages === 0) return [];
  const out: DeadLetter[] = [];
  let seq = info.state.first_seq;
  const subject = consumer ? `${prefix}.dlq.${consumer}` : `${prefix}.dlq.>`;
  for (;;) {
    const iter = await jsm.direct.getBatch(names.dlq, { seq, next_by_subj: subject, batch: 500 });
    let n = 0;
    const items: StoredMsg[] = [];
    try {
      for await (const m of iter) items.push(m);
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
    }
    for (const m of items) {
      n++;
      seq = m.seq + 1;
      const h = m.header;
      out.push({
        consumer: h.get("Wh-Dlq-Consumer"),
        stream: h.get("Wh-Dlq-Stream"),
        seq: Number(h.get("Wh-Dlq-Seq")),
        subject: h.get("Wh-Dlq-Subject"),
        reason: h.get("Wh-Dlq-Reason") as DeadLetterReason,
        error: h.get("Wh-Dlq-Error"),
        deliveries: Number(h.get("Wh-Dlq-Deliveries")),
        eventId: h.get("Wh-Dlq-Event-Id") || null,
        eventType: h.get("Wh-Dlq-Event-Type") || null,
        data: m.data,
      });
    }
    if (n < 500) return out;
  }
}

export async function startLive(ctx: ConsumerContext, opts: LiveOptions): Promise<Consumption> {
  const js = jetstream(ctx.nc);
  const stream = ctx.names.events;
  const subjects = filterSubjects(ctx.prefix, opts.filterTypes);
  const consumer = await js.consumers.get(stream, {
    ...(opts.fromSeq === undefined
      ? { deliver_policy: "new" as ConsumerConfig["deliver_policy"] }
      : { deliver_policy: "by_start_sequence" as ConsumerConfig["deliver_policy"], opt_start_seq: opts.fromSeq }),
    ...(subjects ? { filter_subjects: subjects } : {}),
  });
  const messages = await consumer.consume({ max_messages: 500 });
  const filter = opts.filterTypes ? new Set<string>(opts.filterTypes) : null;
  const done = (async () => {
    for await (const m of messages) {
      let event: AnyRecordedEvent;
      try {
        event = decodeRecorded(m.data, { seq: m.seq, stream, subject: m.subject });
      } catch (e) {
        ctx.logger?.warn({ seq: m.seq, err: describe(e) }, "live subscriber skipped an undecodable message");
        continue;
      }
      if (filter && !filter.has(event.type)) continue;
      try {
        await opts.handler(event);
      } catch (e) {
        ctx.logger?.error({ seq: m.seq, err: describe(e) }, "live subscriber handler failed");
      }
    }
  })();
  return {
    done,
    async stop() {
      await messages.close();
      await done;
    },
  };
}

/** A stored message in stream order, decoded or not (the caller decides what a poison message means). */
export interface RawStreamMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  /** Stream timestamp in ms since the epoch. */
  readonly timeMs: number;
}

export interface RawReadOptions {
  readonly stream: string;
  readonly fromSeq: number;
  /** Stop after this sequence; `undefined` = keep following the stream live. */
  readonly endSeq?: number | undefined;
  readonly batchSize: number;
  /** Flush a partial batch when nothing more is buffered (live following). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Batches of raw messages from an ordered consumer, in stream order. A batch
 * is yielded when full or when no more messages are buffered, so catch-up
 * gets big batches and live following gets low latency.
 */
export async function* readRawBatches(nc: NatsConnection, opts: RawReadOptions): AsyncGenerator<RawStreamMessage[]> {
  if (opts.endSeq !== undefined && opts.endSeq < opts.fromSeq) return;
  const js = jetstream(nc);
  const consumer = await js.consumers.get(opts.stream, {
    deliver_policy: "by_start_sequence" as ConsumerConfig["deliver_policy"],
    opt_start_seq: Math.max(1, opts.fromSeq),
  });
  const messages = await consumer.consume({ max_messages: Math.max(opts.batchSize * 2, 1000) });
  const onAbort = () => {
    void messages.close();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  // Aborted while the consumer was being set up: no event will fire, so close now (or a quiet stream blocks forever).
  if (opts.signal?.aborted) onAbort();
  try {
    const it = messages[Symbol.asyncIterator]();
    let batch: RawStreamMessage[] = [];
    let next = it.next();
    for (;;) {
      const r = await next;
      if (r.done) break;
      const m = r.value;
      next = it.next();
      const item = { seq: m.seq, subject: m.subject, data: m.data, timeMs: Math.floor(m.info.timestampNanos / 1e6) };
      if (opts.endSeq !== undefined && item.seq > opts.endSeq) break;
      batch.push(item);
      const atEnd = opts.endSeq !== undefined && item.seq >= opts.endSeq;
      let flush = batch.length >= opts.batchSize || atEnd;
      if (!flush && m.info.pending === 0) {
        // The server had nothing more when it sent this one. Flush, unless more is already
        // buffered here: a buffered message resolves within this turn, setImmediate only after it.
        const buffered = await Promise.race([
          next.then(() => true),
          new Promise<boolean>((res) => setImmediate(() => res(false))),
        ]);
        flush = !buffered;
      }
      if (flush) {
        yield batch;
        batch = [];
      }
      if (atEnd) break;
    }
    if (batch.length > 0) yield batch;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await messages.close();
  }
}

export async function* readStream(ctx: ConsumerContext, opts: ReadStreamOptions): AsyncGenerator<AnyRecordedEvent[]> {
  const stream = ctx.names.events;
  const jsm = ctx.jsm ?? (await jetstreamManager(ctx.nc));
  const info = await jsm.streams.info(stream);
  const end = Math.min(opts.upToSeq ?? Number.POSITIVE_INFINITY, info.state.last_seq);
  const upToTime = opts.upToTime === undefined ? Number.POSITIVE_INFINITY : Date.parse(opts.upToTime);
  const from = Math.max(opts.fromSeq ?? 1, info.state.first_seq);
  if (end < from || info.state.messages === 0) return;
  for await (const raw of readRawBatches(ctx.nc, {
    stream,
    fromSeq: from,
    endSeq: end,
    batchSize: opts.batchSize ?? 1000,
  })) {
    const out: AnyRecordedEvent[] = [];
    let past = false;
    for (const m of raw) {
      if (m.timeMs > upToTime) {
        past = true;
        break;
      }
      try {
        out.push(decodeRecorded(m.data, { seq: m.seq, stream, subject: m.subject }));
      } catch (e) {
        ctx.logger?.warn({ seq: m.seq, err: describe(e) }, "readStream skipped an undecodable message");
      }
    }
    if (out.length > 0) yield out;
    if (past) return;
  }
}

export function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

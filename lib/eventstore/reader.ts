/**
 * Ordered (ephemeral) consumers, where the position is kept by the reader itself: live fan-out,
 * replay, and the raw batches the projector folds into the read models. Like the durable ones, they
 * renew a pull lost with a node or a leader within seconds (`PULL_RENEWAL`); an ordered consumer
 * that lost its server is created again from the last sequence it delivered.
 */
import {
  type Consumer,
  type ConsumerConfig,
  type ConsumerMessages,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import type { Logger } from "../log/index.ts";
import { decodeRecorded } from "./codec.ts";
import { type ConsumerContext, type Consumption, filterSubjects, PULL_RENEWAL } from "./consumer.ts";
import { describeError } from "./dead-letters.ts";

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

export async function startLive(ctx: ConsumerContext, opts: LiveOptions): Promise<Consumption> {
  const stream = ctx.names.events;
  const subjects = filterSubjects(ctx.prefix, opts.filterTypes);
  const stop = new AbortController();
  // "Only new events" is new from here: the sequence after the last one stored now.
  const fromSeq =
    opts.fromSeq ?? (await (ctx.jsm ?? (await jetstreamManager(ctx.nc))).streams.info(stream)).state.last_seq + 1;
  const messages = orderedMessages(ctx.nc, {
    stream,
    fromSeq,
    filterSubjects: subjects,
    maxMessages: 500,
    signal: stop.signal,
    logger: ctx.logger,
  });
  const filter = opts.filterTypes ? new Set<string>(opts.filterTypes) : null;
  const done = (async () => {
    for await (const m of messages) {
      let event: AnyRecordedEvent;
      try {
        event = decodeRecorded(m.data, { seq: m.seq, stream, subject: m.subject });
      } catch (e) {
        ctx.logger?.warn({ seq: m.seq, err: describeError(e) }, "live subscriber skipped an undecodable message");
        continue;
      }
      if (filter && !filter.has(event.type)) continue;
      try {
        await opts.handler(event);
      } catch (e) {
        ctx.logger?.error({ seq: m.seq, err: describeError(e) }, "live subscriber handler failed");
      }
    }
  })();
  return {
    done,
    async stop() {
      stop.abort();
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
  readonly logger?: Logger | undefined;
}

/**
 * Batches of raw messages from an ordered consumer, in stream order. A batch
 * is yielded when full or when no more messages are buffered, so catch-up
 * gets big batches and live following gets low latency.
 */
export async function* readRawBatches(nc: NatsConnection, opts: RawReadOptions): AsyncGenerator<RawStreamMessage[]> {
  if (opts.endSeq !== undefined && opts.endSeq < opts.fromSeq) return;
  // Its own signal: the read-ahead below may wait on a quiet stream, and only closing the consumer ends that wait.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const messages = orderedMessages(nc, {
    stream: opts.stream,
    fromSeq: Math.max(1, opts.fromSeq),
    maxMessages: Math.max(opts.batchSize * 2, 1000),
    signal: stop.signal,
    logger: opts.logger,
  });
  try {
    const it = messages;
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
    stop.abort();
    await messages.return(undefined);
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
        ctx.logger?.warn({ seq: m.seq, err: describeError(e) }, "readStream skipped an undecodable message");
      }
    }
    if (out.length > 0) yield out;
    if (past) return;
  }
}

/** How long an ordered consumer may deliver nothing before its server is asked whether it is still there. */
const QUIET_PROBE_MS = 3_000;
/** An ordered consumer's own API calls (create, info): fail fast, then try again. */
const ORDERED_API_TIMEOUT_MS = 2_000;
const RECREATE_BACKOFF_MS = [250, 500, 1000, 2000, 5000] as const;

interface OrderedOptions {
  readonly stream: string;
  /** First stream sequence to deliver. */
  readonly fromSeq: number;
  readonly filterSubjects?: string[] | undefined;
  readonly maxMessages: number;
  readonly signal?: AbortSignal | undefined;
  readonly logger?: Logger | undefined;
}

/**
 * Every message of the stream from `fromSeq` (or from now), in order, exactly once, for as long as the
 * caller reads. The client's ordered consumer is R1 and lives on one server: when that server dies, the
 * client keeps asking it for the consumer's info and never recreates it. So when the consumer has
 * delivered nothing for a few seconds, this asks its server; no answer (or no such consumer) closes it,
 * and a new ordered consumer starts at the sequence after the last one delivered.
 */
async function* orderedMessages(nc: NatsConnection, opts: OrderedOptions): AsyncGenerator<JsMsg> {
  const js = jetstream(nc, { timeout: ORDERED_API_TIMEOUT_MS });
  let next = Math.max(1, opts.fromSeq);
  let failures = 0;
  while (!opts.signal?.aborted) {
    let consumer: Consumer;
    let messages: ConsumerMessages;
    try {
      consumer = await js.consumers.get(opts.stream, {
        deliver_policy: "by_start_sequence" as ConsumerConfig["deliver_policy"],
        opt_start_seq: next,
        ...(opts.filterSubjects ? { filter_subjects: opts.filterSubjects } : {}),
      });
      messages = await consumer.consume({ max_messages: opts.maxMessages, ...PULL_RENEWAL });
    } catch (e) {
      if (opts.signal?.aborted) return;
      const wait = RECREATE_BACKOFF_MS[Math.min(failures, RECREATE_BACKOFF_MS.length - 1)] as number;
      failures++;
      opts.logger?.warn(
        { stream: opts.stream, err: describeError(e), retry_ms: wait },
        "ordered consumer not created; trying again",
      );
      await new Promise((resolve) => setTimeout(resolve, wait));
      continue;
    }
    let lost = false;
    let lastDelivery = Date.now();
    const close = () => void messages.close().catch(() => undefined);
    opts.signal?.addEventListener("abort", close, { once: true });
    if (opts.signal?.aborted) close();
    const probe = setInterval(() => {
      if (Date.now() - lastDelivery < QUIET_PROBE_MS) return;
      lastDelivery = Date.now();
      consumer.info().catch((e: unknown) => {
        lost = true;
        opts.logger?.warn(
          { stream: opts.stream, next_seq: next, err: describeError(e) },
          "ordered consumer's server does not answer; creating the consumer again",
        );
        close();
      });
    }, QUIET_PROBE_MS);
    try {
      for await (const m of messages) {
        lastDelivery = Date.now();
        next = m.seq + 1;
        failures = 0;
        yield m;
      }
    } finally {
      clearInterval(probe);
      opts.signal?.removeEventListener("abort", close);
      close();
    }
    if (!lost) return;
    failures++;
  }
}

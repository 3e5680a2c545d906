/**
 * Ordered (ephemeral) consumers, where the position is kept by the reader itself: live fan-out,
 * replay, and the raw batches the projector folds into the read models. Like the durable ones, they
 * renew a pull lost with a node or a leader within seconds (`PULL_RENEWAL`); an ordered consumer
 * that lost its server is created again from the last sequence it delivered.
 */
import { type ConsumerConfig, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
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
  const js = jetstream(ctx.nc);
  const stream = ctx.names.events;
  const subjects = filterSubjects(ctx.prefix, opts.filterTypes);
  const consumer = await js.consumers.get(stream, {
    ...(opts.fromSeq === undefined
      ? { deliver_policy: "new" as ConsumerConfig["deliver_policy"] }
      : { deliver_policy: "by_start_sequence" as ConsumerConfig["deliver_policy"], opt_start_seq: opts.fromSeq }),
    ...(subjects ? { filter_subjects: subjects } : {}),
  });
  const messages = await consumer.consume({ max_messages: 500, ...PULL_RENEWAL });
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
  const messages = await consumer.consume({ max_messages: Math.max(opts.batchSize * 2, 1000), ...PULL_RENEWAL });
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
        ctx.logger?.warn({ seq: m.seq, err: describeError(e) }, "readStream skipped an undecodable message");
      }
    }
    if (out.length > 0) yield out;
    if (past) return;
  }
}

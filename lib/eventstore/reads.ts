/**
 * What the event store reads of one aggregate, straight from the stream by direct get (no
 * consumer): its events, its version, and what an earlier append with an idempotency key stored.
 */
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AggregateType, AnyRecordedEvent } from "../../events/index.ts";
import { ValidationError } from "../errors/index.ts";
import { decodeRecorded } from "./codec.ts";
import type { StreamNames } from "./streams.ts";

/** What the store's module functions share. */
export interface StoreContext {
  readonly nc: NatsConnection;
  /** The JetStream manager, created on first use. */
  readonly jsm: () => Promise<JetStreamManager>;
  readonly prefix: string;
  readonly names: StreamNames;
  /** How long to wait for a publish ack, ms. */
  readonly publishTimeoutMs: number;
}

/** An aggregate's events: `<prefix>.evt.<aggregate_type>.<aggregate_id>`. */
export const eventSubject = (prefix: string, aggregateType: AggregateType, aggregateId: string) =>
  `${prefix}.evt.${aggregateType}.${aggregateId}`;

/** An aggregate's output chunks: `<prefix>.out.<aggregate_type>.<aggregate_id>`. */
export const outputSubject = (prefix: string, aggregateType: AggregateType, aggregateId: string) =>
  `${prefix}.out.${aggregateType}.${aggregateId}`;

export interface ReadOptions {
  /** Only events up to this point: a stream sequence and/or a stream timestamp (ISO 8601). */
  readonly upTo?: { readonly seq?: number | undefined; readonly time?: string | undefined } | undefined;
}

/** Messages on one subject after `afterSeq`, via direct get (no consumer needed). */
export async function subjectMessages(
  ctx: StoreContext,
  stream: string,
  subject: string,
  afterSeq: number,
): Promise<StoredMsg[]> {
  const m = await ctx.jsm();
  const out: StoredMsg[] = [];
  let seq = afterSeq + 1;
  for (;;) {
    const iter = await m.direct.getBatch(stream, { seq, next_by_subj: subject, batch: 1000 });
    let n = 0;
    try {
      for await (const msg of iter) {
        out.push(msg);
        seq = msg.seq + 1;
        n++;
      }
    } catch (e) {
      // 404: no (more) messages on this subject.
      if ((e as { code?: number }).code !== 404) throw e;
    }
    if (n < 1000) return out;
  }
}

/** The messages of `msgs` an append with idempotency key `key` stored (`Nats-Msg-Id: <key>:<index>`), in stream order. */
function byIdempotencyKey(msgs: readonly StoredMsg[], key: string): { index: number; msg: StoredMsg }[] {
  const found: { index: number; msg: StoredMsg }[] = [];
  for (const msg of msgs) {
    const id = msg.header?.get("Nats-Msg-Id");
    if (id?.startsWith(`${key}:`)) found.push({ index: Number(id.slice(key.length + 1)), msg });
  }
  return found;
}

/** After a rejection, was this exact request already stored (a retry)? Returns its sequences. */
export async function findRetry(
  ctx: StoreContext,
  subject: string,
  key: string,
  count: number,
  afterSeq: number,
): Promise<number[] | null> {
  const found = byIdempotencyKey(await subjectMessages(ctx, ctx.names.events, subject, afterSeq), key);
  const seqOf = new Map(found.map(({ index, msg }) => [index, msg.seq]));
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    const seq = seqOf.get(i);
    if (seq === undefined) return null;
    seqs.push(seq);
  }
  return seqs;
}

/** What an append with this idempotency key stored on the aggregate, or `null`. */
export async function findAppend(
  ctx: StoreContext,
  aggregateType: AggregateType,
  aggregateId: string,
  key: string,
): Promise<{ seqs: number[]; events: AnyRecordedEvent[] } | null> {
  const subject = eventSubject(ctx.prefix, aggregateType, aggregateId);
  const found = byIdempotencyKey(await subjectMessages(ctx, ctx.names.events, subject, 0), key);
  if (found.length === 0) return null;
  found.sort((a, b) => a.index - b.index);
  const events = found.map(({ msg }) =>
    decodeRecorded(msg.data, { seq: msg.seq, stream: ctx.names.events, subject: msg.subject }),
  );
  return { seqs: found.map(({ msg }) => msg.seq), events };
}

/** An aggregate's events in stream order, up to a sequence and/or a time. */
export async function readAggregate(
  ctx: StoreContext,
  aggregateType: AggregateType,
  aggregateId: string,
  opts: ReadOptions = {},
): Promise<AnyRecordedEvent[]> {
  const subject = eventSubject(ctx.prefix, aggregateType, aggregateId);
  const upToSeq = opts.upTo?.seq ?? Number.POSITIVE_INFINITY;
  const upToTime = opts.upTo?.time === undefined ? Number.POSITIVE_INFINITY : Date.parse(opts.upTo.time);
  if (Number.isNaN(upToTime)) {
    throw new ValidationError(`upTo.time is not an ISO 8601 timestamp: ${opts.upTo?.time}`, {
      field: "up_to.time",
      fix: "pass a timestamp such as 2026-01-31T12:00:00Z",
    });
  }
  const msgs = await subjectMessages(ctx, ctx.names.events, subject, 0);
  const out: AnyRecordedEvent[] = [];
  for (const m of msgs) {
    if (m.seq > upToSeq || m.time.getTime() > upToTime) break;
    out.push(decodeRecorded(m.data, { seq: m.seq, stream: ctx.names.events, subject: m.subject }));
  }
  return out;
}

/** The aggregate's version (its last subject sequence), 0 when it has no events. */
export async function aggregateVersion(
  ctx: StoreContext,
  aggregateType: AggregateType,
  aggregateId: string,
): Promise<number> {
  const m = await ctx.jsm();
  const last = await m.direct.getMessage(ctx.names.events, {
    last_by_subj: eventSubject(ctx.prefix, aggregateType, aggregateId),
  });
  return last?.seq ?? 0;
}

/**
 * What the event store reads of one aggregate, straight from the stream by direct get (no
 * consumer): its events, its version, and what an earlier append with an idempotency key stored.
 *
 * On a replicated stream any replica answers a direct get, one that is behind the leader included.
 * A read that decides something (a command's decision, a retry's lookup) first asks the leader for
 * the aggregate's last sequence (a message get, which only the leader answers) and checks that
 * what the replica sent reaches it; a replica behind is asked again, then the leader itself. The
 * append's expected version refuses whatever was recorded after the read.
 */
import type { JetStreamManager, MsgRequest, StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AggregateType, AnyRecordedEvent } from "../../events/index.ts";
import { UnavailableError, ValidationError } from "../errors/index.ts";
import { isNoAnswer } from "./append.ts";
import { decodeRecorded } from "./codec.ts";
import type { StreamNames } from "./streams.ts";

/** What the store's module functions share. */
export interface StoreContext {
  readonly nc: NatsConnection;
  /** The JetStream manager the reads use (its own short request timeout), created on first use. */
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
  /**
   * The read decides a command: it holds everything the stream's leader has for the aggregate (one
   * more request, to the leader), never less because a replica behind answered.
   */
  readonly consistent?: boolean | undefined;
}

/**
 * Messages on one subject after `afterSeq`, via direct get (no consumer needed), reaching at least
 * sequence `atLeast` (0: whatever the replica answering has); see the file's comment.
 */
export async function subjectMessages(
  ctx: StoreContext,
  stream: string,
  subject: string,
  afterSeq: number,
  atLeast = 0,
): Promise<StoredMsg[]> {
  return unanswered(subject, async () => {
    const reaches = (msgs: readonly StoredMsg[]) => atLeast <= afterSeq || (msgs.at(-1)?.seq ?? 0) >= atLeast;
    for (let attempt = 0; attempt < 3; attempt++) {
      const msgs = await directMessages(ctx, stream, subject, afterSeq);
      if (reaches(msgs)) return msgs;
    }
    return leaderMessages(ctx, stream, subject, afterSeq);
  });
}

/**
 * `read()`, with JetStream not answering (a leader election, the stream's nodes down) turned into an
 * `UnavailableError` (503: retry), as an append's missing ack is.
 */
async function unanswered<T>(subject: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (cause) {
    if (!isNoAnswer(cause)) throw cause;
    throw new UnavailableError(`JetStream did not answer the read of ${subject}`, {
      cause,
      fix: "retry in a few seconds: the stream is electing a leader, or the nodes holding it are down",
    });
  }
}

/** Messages on one subject after `afterSeq` from whichever replica answers (direct get). */
async function directMessages(
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

/** Messages on one subject after `afterSeq` from the stream's leader, one message get each (slow, exact). */
async function leaderMessages(
  ctx: StoreContext,
  stream: string,
  subject: string,
  afterSeq: number,
): Promise<StoredMsg[]> {
  const m = await ctx.jsm();
  const out: StoredMsg[] = [];
  for (let seq = afterSeq + 1; ; ) {
    // The server's message get takes `next_by_subj` (as the direct get does); the client's type omits it.
    const msg = await m.streams.getMessage(stream, { seq, next_by_subj: subject } as unknown as MsgRequest);
    if (msg === null) return out;
    out.push(msg);
    seq = msg.seq + 1;
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
  const atLeast = await leaderVersion(ctx, subject);
  const found = byIdempotencyKey(await subjectMessages(ctx, ctx.names.events, subject, afterSeq, atLeast), key);
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
  const atLeast = await leaderVersion(ctx, subject);
  const found = byIdempotencyKey(await subjectMessages(ctx, ctx.names.events, subject, 0, atLeast), key);
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
  const atLeast = opts.consistent ? await leaderVersion(ctx, subject) : 0;
  const msgs = await subjectMessages(ctx, ctx.names.events, subject, 0, atLeast);
  const out: AnyRecordedEvent[] = [];
  for (const m of msgs) {
    if (m.seq > upToSeq || m.time.getTime() > upToTime) break;
    out.push(decodeRecorded(m.data, { seq: m.seq, stream: ctx.names.events, subject: m.subject }));
  }
  return out;
}

/** The aggregate's version (its last subject sequence) as the stream's leader has it; 0 when it has no events. */
export async function aggregateVersion(
  ctx: StoreContext,
  aggregateType: AggregateType,
  aggregateId: string,
): Promise<number> {
  return leaderVersion(ctx, eventSubject(ctx.prefix, aggregateType, aggregateId));
}

/** The last sequence on `subject` as the events stream's leader has it (a message get), 0 when there is none. */
async function leaderVersion(ctx: StoreContext, subject: string): Promise<number> {
  const m = await ctx.jsm();
  return unanswered(
    subject,
    async () => (await m.streams.getMessage(ctx.names.events, { last_by_subj: subject }))?.seq ?? 0,
  );
}

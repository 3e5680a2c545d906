/**
 * The event store over JetStream: append with deduplication, optimistic
 * concurrency and atomic multi-event batches; aggregate reads; consumers.
 */
import { type JetStreamManager, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import { type MsgHdrs, type NatsConnection, headers as natsHeaders, nuid } from "@nats-io/transport-node";
import type { AggregateType, AnyEvent, AnyRecordedEvent } from "../../events/index.ts";
import { ConflictError, UnavailableError, ValidationError, WheelhouseError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { decodeRecorded, encodeEvent } from "./codec.ts";
import {
  type ConsumeOptions,
  type Consumption,
  type DeadLetter,
  type LiveOptions,
  listDeadLetters,
  type ReadStreamOptions,
  readStream,
  startConsumer,
  startLive,
} from "./consumer.ts";
import {
  identityOf,
  provisionStreams,
  type StreamIdentity,
  type StreamNames,
  type StreamSettings,
  streamNames,
} from "./streams.ts";

/** Event types that go to the output stream instead of the audit-critical one. */
export const OUTPUT_EVENT_TYPES: ReadonlySet<string> = new Set(["tool_call.output"]);

/** Most events the server accepts in one atomic batch (server default `max_msgs`). */
export const MAX_BATCH = 1000;

export interface EventStoreDeps {
  readonly nc: NatsConnection;
  /** Prefix of streams (upper-cased) and subjects; tests use their own to isolate themselves. */
  readonly prefix: string;
  readonly logger?: Logger | undefined;
  readonly streams?: StreamSettings | undefined;
  /** How long to wait for a publish ack before giving up with `UnavailableError`; default 5 s. */
  readonly publishTimeoutMs?: number | undefined;
}

export interface AppendOptions {
  /**
   * The aggregate's version as the caller last read it: its last subject
   * sequence, `0` or `"none"` when it must not exist yet. A mismatch throws
   * `ConflictError` with `extra.current_version` and appends nothing.
   */
  readonly expectedVersion?: number | "none" | undefined;
  /**
   * Deduplicates retries within the stream's duplicate window: event `i` gets
   * `Nats-Msg-Id: <key>:<i>`. A retry returns the original sequences with
   * `duplicate: true`.
   */
  readonly idempotencyKey?: string | undefined;
}

export interface AppendResult {
  /** Stream sequence of each appended event, in order. */
  readonly seqs: number[];
  /** The aggregate's version after the append (the last event's sequence). */
  readonly version: number;
  /** True when the idempotency key had been used: nothing new was written. */
  readonly duplicate: boolean;
}

export interface ReadOptions {
  /** Only events up to this point: a stream sequence and/or a stream timestamp (ISO 8601). */
  readonly upTo?: { readonly seq?: number | undefined; readonly time?: string | undefined } | undefined;
}

export interface EventStore {
  readonly prefix: string;
  readonly streams: StreamNames;
  /** Creates or updates the streams; idempotent, safe from several processes. */
  provision(): Promise<void>;
  append(events: readonly AnyEvent[], opts?: AppendOptions): Promise<AppendResult>;
  readAggregate(aggregateType: AggregateType, aggregateId: string, opts?: ReadOptions): Promise<AnyRecordedEvent[]>;
  /** The aggregate's version (its last subject sequence), 0 when it has no events. */
  version(aggregateType: AggregateType, aggregateId: string): Promise<number>;
  /**
   * What an append with this idempotency key stored on the aggregate (`duplicate: true`, with the
   * events), or `null` when nothing was: a retry whose first attempt died answers from this instead
   * of deciding again on a state that already holds its own events.
   */
  findAppend(
    aggregateType: AggregateType,
    aggregateId: string,
    idempotencyKey: string,
  ): Promise<{ result: AppendResult; events: AnyRecordedEvent[] } | null>;
  /** Durable pull consumer: explicit ack, bounded redelivery with backoff, dead letters. */
  consume(opts: ConsumeOptions): Promise<Consumption>;
  /** Ordered (ephemeral) consumer from a sequence, for fan-out and replay; no acks. */
  subscribeLive(opts: LiveOptions): Promise<Consumption>;
  /** Batches of the events stream in order, from a sequence up to a bound (replay, rebuild, as-of). */
  readStream(opts: ReadStreamOptions): AsyncGenerator<AnyRecordedEvent[]>;
  /** Dead letters recorded on `<PREFIX>_DLQ`, for one consumer or all, oldest first. */
  deadLetters(consumer?: string): Promise<DeadLetter[]>;
  /** Last sequence of the events stream (0 when empty). */
  lastSeq(): Promise<number>;
  /**
   * Which events stream this is (`wheelhouse_stream_id`, set once at creation) and how far it goes.
   * Positions kept outside the stream (checkpoints) are meaningful only for the identity they were taken in.
   */
  identity(): Promise<StreamIdentity>;
  subjectFor(aggregateType: AggregateType, aggregateId: string): string;
  /** The JetStream manager, for tooling and tests. */
  manager(): Promise<JetStreamManager>;
}

export function createEventStore(deps: EventStoreDeps): EventStore {
  const { nc, prefix, logger } = deps;
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) {
    throw new ValidationError(`invalid event store prefix ${JSON.stringify(prefix)}`, {
      field: "nats.prefix",
      fix: "use lower-case letters, digits and _ , starting with a letter",
    });
  }
  const names = streamNames(prefix);
  const timeout = deps.publishTimeoutMs ?? 5000;
  let jsmPromise: Promise<JetStreamManager> | null = null;
  const jsm = () => {
    jsmPromise ??= jetstreamManager(nc);
    return jsmPromise;
  };

  const subjectFor = (aggregateType: AggregateType, aggregateId: string) =>
    `${prefix}.evt.${aggregateType}.${aggregateId}`;
  const outputSubjectFor = (aggregateType: AggregateType, aggregateId: string) =>
    `${prefix}.out.${aggregateType}.${aggregateId}`;

  async function publishRequest(subject: string, data: Uint8Array, h: MsgHdrs): Promise<PubAckJson> {
    try {
      const reply = await nc.request(subject, data, { headers: h, timeout });
      return reply.json<PubAckJson>();
    } catch (cause) {
      throw new UnavailableError(`JetStream did not acknowledge the append to ${subject}`, {
        cause,
        fix: "retry with the same idempotency key; the append is deduplicated",
      });
    }
  }

  /** Messages on one subject after `afterSeq`, via direct get (no consumer needed). */
  async function subjectMessages(stream: string, subject: string, afterSeq: number): Promise<StoredMsg[]> {
    const m = await jsm();
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

  /** After a rejection, was this exact request already stored (a retry)? Returns its sequences. */
  async function findRetry(subject: string, stream: string, key: string, count: number, afterSeq: number) {
    const msgs = await subjectMessages(stream, subject, afterSeq);
    const ids = new Map<string, number>();
    for (const m of msgs) {
      const id = m.header?.get("Nats-Msg-Id");
      if (id?.startsWith(`${key}:`)) ids.set(id, m.seq);
    }
    const seqs: number[] = [];
    for (let i = 0; i < count; i++) {
      const s = ids.get(`${key}:${i}`);
      if (s === undefined) return null;
      seqs.push(s);
    }
    return seqs;
  }

  async function findAppend(aggregateType: AggregateType, aggregateId: string, key: string) {
    const found: { index: number; msg: StoredMsg }[] = [];
    for (const msg of await subjectMessages(names.events, subjectFor(aggregateType, aggregateId), 0)) {
      const id = msg.header?.get("Nats-Msg-Id");
      if (id?.startsWith(`${key}:`)) found.push({ index: Number(id.slice(key.length + 1)), msg });
    }
    if (found.length === 0) return null;
    found.sort((a, b) => a.index - b.index);
    const events = found.map(({ msg }) =>
      decodeRecorded(msg.data, { seq: msg.seq, stream: names.events, subject: msg.subject }),
    );
    const seqs = found.map(({ msg }) => msg.seq);
    return { result: { seqs, version: seqs[seqs.length - 1] as number, duplicate: true }, events };
  }

  async function append(events: readonly AnyEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    const first = events[0];
    if (first === undefined) {
      throw new ValidationError("append needs at least one event", { field: "events", fix: "pass one or more events" });
    }
    if (events.length > MAX_BATCH) {
      throw new ValidationError(`append takes at most ${MAX_BATCH} events, got ${events.length}`, {
        field: "events",
        fix: "split the command into several appends",
      });
    }
    const output = OUTPUT_EVENT_TYPES.has(first.type);
    for (const [i, e] of events.entries()) {
      if (e.aggregate_type !== first.aggregate_type || e.aggregate_id !== first.aggregate_id) {
        throw new ValidationError("all events of one append must belong to one aggregate", {
          field: `events[${i}].aggregate_id`,
          fix: `append events of ${e.aggregate_type}/${e.aggregate_id} separately`,
        });
      }
      if (OUTPUT_EVENT_TYPES.has(e.type) !== output) {
        throw new ValidationError("output chunks and other events cannot be appended together", {
          field: `events[${i}].type`,
          fix: "append tool_call.output events on their own",
        });
      }
    }
    const key = opts.idempotencyKey;
    if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key)) {
      throw new ValidationError("idempotency key must be 1-200 printable ASCII characters without spaces", {
        field: "idempotency_key",
        fix: "use a UUID or a similar opaque token",
      });
    }
    const expected = opts.expectedVersion === "none" ? 0 : opts.expectedVersion;
    if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
      throw new ValidationError(`expectedVersion must be a non-negative integer, got ${expected}`, {
        field: "expected_version",
        fix: "pass the version returned by the last read or append, or 0 for a new aggregate",
      });
    }

    if (output) return appendOutput(events, key);

    const subject = subjectFor(first.aggregate_type, first.aggregate_id);
    const stream = names.events;
    let ack: PubAckJson;
    if (events.length === 1) {
      const h = natsHeaders();
      if (key !== undefined) h.set("Nats-Msg-Id", `${key}:0`);
      if (expected !== undefined) h.set("Nats-Expected-Last-Subject-Sequence", String(expected));
      ack = await publishRequest(subject, encodeEvent(first), h);
    } else {
      // One round trip: every message but the last is a plain publish; the
      // commit is a request whose pub ack (or error) covers the whole batch.
      const batchId = nuid.next();
      for (let i = 0; i < events.length; i++) {
        const h = natsHeaders();
        h.set("Nats-Batch-Id", batchId);
        h.set("Nats-Batch-Sequence", String(i + 1));
        if (key !== undefined) h.set("Nats-Msg-Id", `${key}:${i}`);
        // Only the first message may carry the check: later ones write the same subject (ADR-50).
        if (i === 0 && expected !== undefined) h.set("Nats-Expected-Last-Subject-Sequence", String(expected));
        const data = encodeEvent(events[i] as AnyEvent);
        if (i < events.length - 1) {
          nc.publish(subject, data, { headers: h });
        } else {
          h.set("Nats-Batch-Commit", "1");
          ack = await publishRequest(subject, data, h);
        }
      }
    }
    // biome-ignore lint/style/noNonNullAssertion: assigned in both branches above (the loop always reaches its last message)
    const result = ack!;
    if (result.error) {
      const code = result.error.err_code;
      if (code === ERR_WRONG_LAST_SEQUENCE || code === ERR_BATCH_DUPLICATE_MSG_ID) {
        // The server checks the expected sequence before deduplication, so a
        // retry of a guarded append looks like a conflict: look for the retry first.
        if (key !== undefined) {
          const seqs = await findRetry(subject, stream, key, events.length, expected ?? 0);
          if (seqs) return { seqs, version: seqs[seqs.length - 1] as number, duplicate: true };
        }
        if (code === ERR_BATCH_DUPLICATE_MSG_ID) {
          throw new ConflictError("idempotency key was already used for a different request", {
            field: "idempotency_key",
            fix: "use a new idempotency key for a new request",
          });
        }
        const current = Number(/(\d+)\s*$/.exec(result.error.description)?.[1] ?? Number.NaN);
        const currentVersion = Number.isFinite(current)
          ? current
          : await version(first.aggregate_type, first.aggregate_id);
        throw new ConflictError(
          `${first.aggregate_type} ${first.aggregate_id} is at version ${currentVersion}, not ${expected}`,
          {
            field: "expected_version",
            fix: "read the aggregate again and retry the command against its current version",
            extra: { current_version: currentVersion, expected_version: expected },
          },
        );
      }
      throw new WheelhouseError("append_rejected", 500, `JetStream rejected the append: ${result.error.description}`, {
        extra: { err_code: code },
      });
    }
    const last = result.seq;
    const seqs = events.length === 1 ? [last] : events.map((_, i) => last - events.length + 1 + i);
    return { seqs, version: last, duplicate: result.duplicate === true };
  }

  async function appendOutput(events: readonly AnyEvent[], key: string | undefined): Promise<AppendResult> {
    const first = events[0] as AnyEvent;
    const subject = outputSubjectFor(first.aggregate_type, first.aggregate_id);
    // Output chunks are a log, not a decision: no atomic batch (async streams refuse them), one ack each.
    const acks = await Promise.all(
      events.map((e, i) => {
        const h = natsHeaders();
        if (key !== undefined) h.set("Nats-Msg-Id", `${key}:${i}`);
        return publishRequest(subject, encodeEvent(e), h);
      }),
    );
    const seqs: number[] = [];
    for (const a of acks) {
      if (a.error) {
        throw new WheelhouseError("append_rejected", 500, `JetStream rejected an output chunk: ${a.error.description}`);
      }
      seqs.push(a.seq);
    }
    return { seqs, version: seqs[seqs.length - 1] as number, duplicate: acks.every((a) => a.duplicate === true) };
  }

  async function readAggregate(
    aggregateType: AggregateType,
    aggregateId: string,
    opts: ReadOptions = {},
  ): Promise<AnyRecordedEvent[]> {
    const subject = subjectFor(aggregateType, aggregateId);
    const upToSeq = opts.upTo?.seq ?? Number.POSITIVE_INFINITY;
    const upToTime = opts.upTo?.time === undefined ? Number.POSITIVE_INFINITY : Date.parse(opts.upTo.time);
    if (Number.isNaN(upToTime)) {
      throw new ValidationError(`upTo.time is not an ISO 8601 timestamp: ${opts.upTo?.time}`, {
        field: "up_to.time",
        fix: "pass a timestamp such as 2026-01-31T12:00:00Z",
      });
    }
    const msgs = await subjectMessages(names.events, subject, 0);
    const out: AnyRecordedEvent[] = [];
    for (const m of msgs) {
      if (m.seq > upToSeq || m.time.getTime() > upToTime) break;
      out.push(decodeRecorded(m.data, { seq: m.seq, stream: names.events, subject: m.subject }));
    }
    return out;
  }

  async function version(aggregateType: AggregateType, aggregateId: string): Promise<number> {
    const m = await jsm();
    const last = await m.direct.getMessage(names.events, { last_by_subj: subjectFor(aggregateType, aggregateId) });
    return last?.seq ?? 0;
  }

  return {
    prefix,
    streams: names,
    async provision() {
      await provisionStreams(await jsm(), prefix, deps.streams ?? {}, logger);
    },
    append,
    readAggregate,
    version,
    findAppend,
    async consume(opts) {
      return startConsumer({ nc, jsm: await jsm(), prefix, names, logger }, opts);
    },
    async subscribeLive(opts) {
      return startLive({ nc, jsm: await jsm(), prefix, names, logger }, opts);
    },
    readStream(opts) {
      return readStream({ nc, jsm: null, prefix, names, logger }, opts);
    },
    async deadLetters(consumer) {
      return listDeadLetters(await jsm(), prefix, names, consumer);
    },
    async lastSeq() {
      const info = await (await jsm()).streams.info(names.events);
      return info.state.last_seq;
    },
    async identity() {
      return identityOf(await (await jsm()).streams.info(names.events));
    },
    subjectFor,
    manager: jsm,
  };
}

/** `wrong last sequence: N` (expected last subject sequence mismatch). */
const ERR_WRONG_LAST_SEQUENCE = 10071;
/** An atomic batch carried a `Nats-Msg-Id` already in the duplicate window. */
const ERR_BATCH_DUPLICATE_MSG_ID = 10201;

interface PubAckJson {
  stream: string;
  seq: number;
  duplicate?: boolean;
  batch?: string;
  count?: number;
  error?: { code: number; err_code: number; description: string };
}

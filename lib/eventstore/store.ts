/**
 * The event store over JetStream: append with deduplication, optimistic
 * concurrency and atomic multi-event batches (append.ts); aggregate reads
 * (reads.ts); durable consumers (consumer.ts), ordered readers (reader.ts)
 * and dead letters (dead-letters.ts).
 */
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AggregateType, AnyEvent, AnyRecordedEvent } from "../../events/index.ts";
import { ValidationError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { type AppendOptions, type AppendOutcome, appendEvents } from "./append.ts";
import { type ConsumeOptions, type Consumption, startConsumer } from "./consumer.ts";
import { type DeadLetter, listDeadLetters } from "./dead-letters.ts";
import { type LiveOptions, type ReadStreamOptions, readStream, startLive } from "./reader.ts";
import {
  aggregateVersion,
  eventSubject,
  findAppend,
  type ReadOptions,
  readAggregate,
  type StoreContext,
} from "./reads.ts";
import {
  identityOf,
  provisionStreams,
  type StreamIdentity,
  type StreamNames,
  type StreamSettings,
  streamNames,
} from "./streams.ts";

export { type AppendOptions, type AppendOutcome, MAX_BATCH, OUTPUT_EVENT_TYPES } from "./append.ts";
export type { ReadOptions } from "./reads.ts";

export interface EventStoreDeps {
  readonly nc: NatsConnection;
  /** Prefix of streams (upper-cased) and subjects; tests use their own to isolate themselves. */
  readonly prefix: string;
  readonly logger?: Logger | undefined;
  readonly streams?: StreamSettings | undefined;
  /** How long to wait for a publish ack before giving up with `UnavailableError`; default 5 s. */
  readonly publishTimeoutMs?: number | undefined;
  /** Durable consumers' `ackWaitMs` unless one sets its own (`nats.ack_wait_ms`); default 30 s. */
  readonly ackWaitMs?: number | undefined;
}

export interface EventStore {
  readonly prefix: string;
  readonly streams: StreamNames;
  /** Creates or updates the streams; idempotent, safe from several processes. */
  provision(): Promise<void>;
  append(events: readonly AnyEvent[], opts?: AppendOptions): Promise<AppendOutcome>;
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
  ): Promise<{ result: AppendOutcome; events: AnyRecordedEvent[] } | null>;
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

/** How long a read (direct get, message get) waits for an answer before it counts as not answered. */
const READ_TIMEOUT_MS = 2_000;

export function createEventStore(deps: EventStoreDeps): EventStore {
  const { nc, prefix, logger } = deps;
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) {
    throw new ValidationError(`invalid event store prefix ${JSON.stringify(prefix)}`, {
      field: "nats.prefix",
      fix: "use lower-case letters, digits and _ , starting with a letter",
    });
  }
  const names = streamNames(prefix);
  let jsmPromise: Promise<JetStreamManager> | null = null;
  const jsm = () => {
    jsmPromise ??= jetstreamManager(nc);
    return jsmPromise;
  };
  // Reads get a manager of their own with a shorter timeout: a direct get sent to a node as it dies (or to
  // a leader as it loses its election) is never answered, and a reader waiting out the default 5 s before
  // it asks again held a consumer that long behind an election that took a second.
  let readJsmPromise: Promise<JetStreamManager> | null = null;
  const readJsm = () => {
    readJsmPromise ??= jetstreamManager(nc, { timeout: READ_TIMEOUT_MS });
    return readJsmPromise;
  };
  const ctx: StoreContext = { nc, jsm: readJsm, prefix, names, publishTimeoutMs: deps.publishTimeoutMs ?? 5000 };
  const consumers = async () => ({ nc, jsm: await jsm(), prefix, names, logger });

  return {
    prefix,
    streams: names,
    async provision() {
      await provisionStreams(await jsm(), prefix, deps.streams ?? {}, logger);
    },
    append: (events, opts) => appendEvents(ctx, events, opts),
    readAggregate: (aggregateType, aggregateId, opts) => readAggregate(ctx, aggregateType, aggregateId, opts),
    version: (aggregateType, aggregateId) => aggregateVersion(ctx, aggregateType, aggregateId),
    async findAppend(aggregateType, aggregateId, key) {
      const found = await findAppend(ctx, aggregateType, aggregateId, key);
      if (found === null) return null;
      const { seqs, events } = found;
      return { result: { seqs, version: seqs[seqs.length - 1] as number, duplicate: true }, events };
    },
    async consume(opts) {
      return startConsumer(await consumers(), {
        ...(deps.ackWaitMs === undefined ? {} : { ackWaitMs: deps.ackWaitMs }),
        ...opts,
      });
    },
    async subscribeLive(opts) {
      return startLive(await consumers(), opts);
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
    subjectFor: (aggregateType, aggregateId) => eventSubject(prefix, aggregateType, aggregateId),
    manager: jsm,
  };
}

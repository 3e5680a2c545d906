/**
 * Durable pull consumers, for services reacting to events: explicit ack,
 * bounded redelivery with backoff, a deadline per handler call, and dead
 * letters for what never succeeds. Ordered consumers are in reader.ts.
 *
 * On a cluster: an event is redelivered (to this process or another sharing the durable) only
 * when its `ack_wait` passes without an ack or a sign of progress. A handler still working says so
 * every third of it (`working()`), so a slow call is never handed to a second process while the
 * first still runs it, and events are pulled only a few ahead, so none waits in this process's
 * buffer anywhere near that long. After a node or leader is lost, the pull is renewed within a
 * few seconds: pull requests expire every 2 s, with a heartbeat every second, and two missed
 * heartbeats make the client check the consumer and pull again (the client's defaults, 30 s and
 * 15 s, left a consumer idle for 30–45 s after a leader change).
 */
import {
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  jetstream,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import {
  type AnyRecordedEvent,
  aggregatesOf,
  type EventType,
  isEventType,
  UnknownEventTypeError,
} from "../../events/index.ts";
import { UnavailableError, ValidationError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { decodeRecorded } from "./codec.ts";
import { type DeadLetter, type DeadLetterReason, describeError, publishDeadLetter } from "./dead-letters.ts";
import type { StreamNames } from "./streams.ts";

export interface ConsumerContext {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager | null;
  readonly prefix: string;
  readonly names: StreamNames;
  readonly logger?: Logger | undefined;
}

export interface ConsumeOptions {
  /** Durable consumer name: letters, digits, `-` and `_`. Several processes with one name share the work. */
  readonly durable: string;
  /** Only these event types reach the handler (others are acknowledged and skipped). */
  readonly filterTypes?: readonly EventType[] | undefined;
  readonly handler: (event: AnyRecordedEvent) => Promise<void>;
  /** Attempts before an event is dead-lettered; default 5. */
  readonly maxDeliver?: number | undefined;
  /** Delay before attempt n+1 after a handler failed (last value repeats); default [1 s, 5 s, 30 s]. */
  readonly backoffMs?: readonly number[] | undefined;
  /**
   * How long the server waits for an ack or a sign of progress before it redelivers an event
   * (`ack_wait`); default 30 s. A handler that is still running extends it (`working()` every third
   * of it) up to `handlerTimeoutMs`, so this bounds how soon the events a killed process held go to
   * another one, not how long a handler may take. The services' handlers take milliseconds to a few
   * seconds (an LLM call), far below it; events pulled ahead wait at most `batch` handler calls.
   */
  readonly ackWaitMs?: number | undefined;
  /** Messages pulled ahead; default 10 (each waits for the ones before it, inside its `ack_wait`). */
  readonly batch?: number | undefined;
  /**
   * Events handled at once; default 1. Events of one aggregate (one subject) are still handled one after
   * the other, in stream order: only different aggregates overlap. More are pulled ahead to keep them busy.
   */
  readonly concurrency?: number | undefined;
  /**
   * How long one handler call may run; default 15 minutes. A call still running then counts as a
   * failed attempt (retried with backoff, dead-lettered after the last) and the consumer moves on:
   * handlers are idempotent, and one that hangs must not hold the stream behind it for ever (the
   * heartbeat would keep it leased indefinitely).
   */
  readonly handlerTimeoutMs?: number | undefined;
  /**
   * How long a handler that fails because a dependency is not answering (`UnavailableError`: NATS in an
   * election, Postgres restarting) is called again in place, every second, before the failure counts as
   * an attempt; default 2 minutes. An election must not burn the deliveries that lead to a dead letter,
   * nor push the event behind a 30 s backoff step.
   */
  readonly unavailableRetryMs?: number | undefined;
  /** Where a new consumer starts: `all` (default), `new`, or a sequence. */
  readonly deliverFrom?: "all" | "new" | { readonly seq: number } | undefined;
  /**
   * Called after a dead letter is recorded on the DLQ stream (e.g. to record it in Postgres too). The event
   * is terminated only after it returns; if it throws, the event is redelivered and it is called again.
   */
  readonly onDeadLetter?: ((letter: DeadLetter) => Promise<void>) | undefined;
}

export interface Consumption {
  /** Stops pulling, lets the event in hand finish and acknowledges it, hands back what was pulled ahead. */
  stop(): Promise<void>;
  /** Resolves when the consumer stops (by `stop()` or an error). */
  readonly done: Promise<void>;
}

const DEFAULT_BACKOFF_MS = [1000, 5000, 30_000] as const;
const DEFAULT_HANDLER_TIMEOUT_MS = 15 * 60_000;
const DEFAULT_UNAVAILABLE_RETRY_MS = 2 * 60_000;
const UNAVAILABLE_RETRY_EVERY_MS = 1_000;
const DEFAULT_ACK_WAIT_MS = 30_000;
/** Pull requests expire after this (the heartbeat is half of it): how soon a lost pull is noticed. */
const PULL_EXPIRES_MS = 2_000;
/**
 * `consume()` options every consumer of the store uses, durable or ordered: a pull lost with a node or
 * a leader is noticed (two missed heartbeats) and renewed within seconds, not the client's 30–45 s.
 */
export const PULL_RENEWAL = { expires: PULL_EXPIRES_MS, idle_heartbeat: PULL_EXPIRES_MS / 2 } as const;
/** JetStream API calls of a consumer (its info after missed heartbeats, ack replies): fail fast, retry. */
const CONSUMER_API_TIMEOUT_MS = 2_000;
/** Dead letters whose write failed kept to be written again as they were; beyond this the oldest is forgotten. */
const MAX_UNRECORDED_LETTERS = 1_000;

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

/** The subjects of the aggregates whose events include `types`; `undefined` = every subject. */
export function filterSubjects(prefix: string, types: readonly EventType[] | undefined): string[] | undefined {
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
  const ackWaitMs = opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const backoffMs = opts.backoffMs && opts.backoffMs.length > 0 ? opts.backoffMs : DEFAULT_BACKOFF_MS;
  const stream = names.events;
  const wanted: Partial<ConsumerConfig> = {
    durable_name: opts.durable,
    ack_policy: "explicit" as ConsumerConfig["ack_policy"],
    // No limit on the server: the consumer counts deliveries itself. The handler gets `maxDeliver` calls;
    // any later delivery (after a handler that crashed the process every time, or a dead-letter write that
    // failed) goes straight to the dead-letter write, and the event is terminated only once its dead
    // letter is recorded. A server limit would give up on an event whose dead-letter write kept failing
    // (NATS in an election, the DLQ stream unavailable) and lose it without a trace.
    max_deliver: -1,
    // Not a server-side backoff: that would replace ack_wait with its first step (1 s), and an event
    // pulled ahead or in a slow handler would go to a second process while the first still has it.
    // A failed handler is retried after its backoff step by an explicit nak(delay).
    ack_wait: nanos(ackWaitMs),
    backoff: [],
    max_ack_pending: 1000,
  };
  const subjects = filterSubjects(prefix, opts.filterTypes);
  if (subjects) wanted.filter_subjects = subjects;
  await ensureConsumer(jsm, stream, wanted, opts.deliverFrom ?? "all");

  const js = jetstream(nc, { timeout: CONSUMER_API_TIMEOUT_MS });
  const consumer = await js.consumers.get(stream, opts.durable);
  const messages: ConsumerMessages = await consumer.consume({
    max_messages: opts.batch ?? Math.max(10, opts.concurrency ?? 1),
    ...PULL_RENEWAL,
  });
  const filter = opts.filterTypes ? new Set<string>(opts.filterTypes) : null;
  const workingEveryMs = Math.max(100, Math.floor(ackWaitMs / 3));
  const handlerTimeoutMs = opts.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
  const unavailableRetryMs = opts.unavailableRetryMs ?? DEFAULT_UNAVAILABLE_RETRY_MS;
  let stopping = false;
  /**
   * Dead letters this process could not record yet, by stream sequence: a later delivery of the event
   * records the same letter (the handler's own error, not just "out of deliveries"). Bounded; a letter
   * forgotten, or the event redelivered to another process, is recorded as `max_deliveries` instead.
   */
  const unrecorded = new Map<number, DeadLetter>();

  /** The wait before the next delivery after attempt `deliveryCount` failed (the last step repeats). */
  function retryDelayMs(deliveryCount: number): number {
    return backoffMs[Math.min(deliveryCount - 1, backoffMs.length - 1)] ?? 1000;
  }

  /**
   * Records the event's dead letter (on the DLQ stream, then `onDeadLetter`) and only then terminates
   * the event. A record that fails leaves the event unacknowledged: it is naked with its backoff step and
   * its next delivery writes the letter again (the DLQ write is deduplicated by consumer, stream and
   * sequence, so a write that was stored but not confirmed is not recorded twice).
   */
  async function deadLetter(m: JsMsg, reason: DeadLetterReason, error: unknown, event?: AnyRecordedEvent) {
    const letter: DeadLetter = unrecorded.get(m.seq) ?? {
      consumer: opts.durable,
      stream,
      seq: m.seq,
      subject: m.subject,
      reason,
      error: describeError(error),
      deliveries: m.info.deliveryCount,
      eventId: event?.id ?? null,
      eventType: event?.type ?? null,
      data: m.data,
    };
    let step = "write it to the DLQ stream";
    try {
      await publishDeadLetter(nc, prefix, letter);
      step = "record it (onDeadLetter)";
      await opts.onDeadLetter?.(letter);
    } catch (e) {
      // Re-inserted, so the bound forgets the letters that failed longest ago.
      unrecorded.delete(m.seq);
      unrecorded.set(m.seq, letter);
      if (unrecorded.size > MAX_UNRECORDED_LETTERS) unrecorded.delete(unrecorded.keys().next().value as number);
      const delay = retryDelayMs(m.info.deliveryCount);
      logger?.error(
        {
          seq: m.seq,
          reason: letter.reason,
          deliveries: m.info.deliveryCount,
          err: describeError(e),
          retry_in_ms: delay,
        },
        `could not ${step}; the event stays unacknowledged and its dead letter is written again on its next delivery`,
      );
      m.nak(delay);
      return;
    }
    unrecorded.delete(m.seq);
    m.term(letter.reason);
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
      return;
    }
    if (filter && !filter.has(event.type)) {
      m.ack();
      return;
    }
    if (m.info.deliveryCount > maxDeliver) {
      await deadLetter(m, "max_deliveries", "handler did not finish within the allowed deliveries", event);
      return;
    }
    const beat = setInterval(() => m.working(), workingEveryMs);
    try {
      await callThroughOutages(event);
      m.ack();
    } catch (e) {
      if (m.info.deliveryCount >= maxDeliver) {
        await deadLetter(m, "handler_failed", e, event);
      } else {
        const delay = retryDelayMs(m.info.deliveryCount);
        logger?.warn(
          { seq: m.seq, type: event.type, err: describeError(e), delay_ms: delay },
          "handler failed; retrying",
        );
        m.nak(delay);
      }
    } finally {
      clearInterval(beat);
    }
  }

  /** The handler, called again in place while what it depends on is not answering (bounded). */
  async function callThroughOutages(event: AnyRecordedEvent) {
    const giveUpAt = Date.now() + unavailableRetryMs;
    for (;;) {
      try {
        await withTimeout(opts.handler(event), handlerTimeoutMs);
        return;
      } catch (e) {
        if (!(e instanceof UnavailableError) || stopping || Date.now() + UNAVAILABLE_RETRY_EVERY_MS > giveUpAt) throw e;
        logger?.warn(
          { seq: event.seq, type: event.type, err: describeError(e) },
          "a dependency is not answering; calling the handler again",
        );
        await new Promise((resolve) => setTimeout(resolve, UNAVAILABLE_RETRY_EVERY_MS));
      }
    }
  }

  async function handleOrRetry(m: JsMsg) {
    try {
      await handle(m);
    } catch (e) {
      // Not expected (dead-letter failures are handled in deadLetter): leave the event for redelivery, never drop it.
      logger?.error({ seq: m.seq, err: describeError(e) }, "could not handle event; will be redelivered");
      m.nak(backoffMs[0] ?? 1000);
    }
  }

  const concurrency = Math.max(1, opts.concurrency ?? 1);
  /** The last handling of each subject in flight: the next event of that aggregate waits for it. */
  const lastOfSubject = new Map<string, Promise<void>>();
  const inFlight = new Set<Promise<void>>();
  const done = (async () => {
    for await (const m of messages) {
      if (stopping) {
        // Pulled ahead but not started: hand it back at once instead of waiting for the ack timeout.
        m.nak();
        continue;
      }
      if (concurrency === 1) {
        await handleOrRetry(m);
        continue;
      }
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      const previous = lastOfSubject.get(m.subject);
      const run: Promise<void> = (previous ?? Promise.resolve()).then(() => handleOrRetry(m));
      lastOfSubject.set(m.subject, run);
      inFlight.add(run);
      void run.finally(() => {
        inFlight.delete(run);
        if (lastOfSubject.get(m.subject) === run) lastOfSubject.delete(m.subject);
      });
    }
    await Promise.all(inFlight);
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
    ack_wait: wanted.ack_wait,
    backoff: wanted.backoff,
    max_ack_pending: wanted.max_ack_pending,
    ...(wanted.filter_subjects ? { filter_subjects: wanted.filter_subjects } : {}),
  });
}

/**
 * The event backbone: JetStream streams, appends with deduplication,
 * optimistic concurrency and atomic batches, aggregate reads, consumers.
 *
 * ```ts
 * const store = createEventStore({ nc, prefix: "wh", logger });
 * await store.provision();
 * const { version } = await store.append([event], { expectedVersion: "none", idempotencyKey });
 * const history = await store.readAggregate("plan", planId, { upTo: { time } });
 * const c = await store.consume({ durable: "planner", filterTypes: ["plan.requested"], handler });
 * await c.stop();
 * ```
 */
import type { NatsConfig } from "../config/index.ts";
import type { StreamSettings } from "./streams.ts";

export { isNoAnswer, permissionViolation } from "./append.ts";
export { decodeRecorded, PoisonMessageError } from "./codec.ts";
export type { Aggregate, AggregateRead, CommandDecision, CommandOptions, CommandResult } from "./command.ts";
export { aggregateStream, handleCommand } from "./command.ts";
export type { ConsumeOptions, Consumption } from "./consumer.ts";
export type { DeadLetter, DeadLetterReason } from "./dead-letters.ts";
export { describeError, publishDeadLetter } from "./dead-letters.ts";
export type { LiveOptions, RawStreamMessage, ReadStreamOptions } from "./reader.ts";
export { readRawBatches } from "./reader.ts";
export type { AppendOptions, AppendOutcome, EventStore, EventStoreDeps, ReadOptions } from "./store.ts";
export { createEventStore, MAX_BATCH, OUTPUT_EVENT_TYPES } from "./store.ts";
export type { Durability, StreamIdentity, StreamNames, StreamSettings } from "./streams.ts";
export { identityOf, provisionStreams, STREAM_ID_KEY, streamConfigs, streamNames } from "./streams.ts";

/** Stream settings from the `nats` config section (`events_sync: always` = safe, `interval` = fast). */
export function streamSettingsFromConfig(nats: NatsConfig): StreamSettings {
  return {
    events: nats.events_sync === "always" ? "safe" : "fast",
    output: "fast",
    replicas: nats.replicas,
    duplicateWindowMs: nats.duplicate_window_ms,
  };
}

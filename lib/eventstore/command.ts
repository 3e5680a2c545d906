/**
 * The one command path for every aggregate, as emmett's `CommandHandler`:
 * read the aggregate's stream, fold it into state, let the caller's decider
 * turn that state into events, append them guarded by the version read.
 *
 * ```ts
 * const { appended } = await handleCommand(store, planDecider, planId, (state) =>
 *   envelope(decide(command, state)), { idempotencyKey });
 * ```
 */
import type { AggregateType, AnyEvent, AnyRecordedEvent } from "../../events/index.ts";
import type { AppendOutcome, EventStore, ReadOptions } from "./store.ts";

/** What the command path needs of an aggregate: where it lives and how its events fold into state. */
export interface Aggregate<State> {
  /** The aggregate type whose stream (subject) is read. */
  readonly type: AggregateType;
  readonly evolve: (state: State, event: AnyRecordedEvent) => State;
  readonly initialState: State;
}

/** An aggregate's state as read, with the version a later append is guarded on. */
export interface AggregateRead<State> {
  readonly state: State;
  /** The aggregate's last subject sequence; 0 when it has no events. */
  readonly version: number;
  /** The events folded, oldest first (for the rare rule that needs more than the state). */
  readonly events: readonly AnyRecordedEvent[];
}

export interface CommandOptions {
  /** Deduplicates a retried command: passed to `append` as is. */
  readonly idempotencyKey?: string | undefined;
  /**
   * The append's guard. Default: the version read, so anything recorded on the aggregate between
   * the read and the append refuses the command with `ConflictError` (`extra.current_version`).
   * `"none"` when the decided events start another aggregate, which must not exist yet.
   */
  readonly expectedVersion?: number | "none" | undefined;
  /**
   * The id was just minted, so the aggregate has no events: decide on `initialState` without a
   * read; the append is guarded with `"none"` and refuses the (retry) case where it does exist.
   */
  readonly newAggregate?: boolean | undefined;
  /** Fold only events up to this point (as-of reads). */
  readonly read?: ReadOptions | undefined;
}

/** Decides on the state as read; the events must belong to one aggregate. No events: nothing is appended. */
export type CommandDecision<State> = (
  state: State,
  read: AggregateRead<State>,
) => readonly AnyEvent[] | Promise<readonly AnyEvent[]>;

export interface CommandResult<State> {
  /** What was read and decided on. */
  readonly read: AggregateRead<State>;
  /** The events decided (and appended, unless empty). */
  readonly events: readonly AnyEvent[];
  /** The append's result; `null` when the decision was to record nothing. */
  readonly appended: AppendOutcome | null;
}

/** Reads an aggregate's stream and folds it (emmett's `aggregateStream`). */
export async function aggregateStream<State>(
  store: Pick<EventStore, "readAggregate">,
  aggregate: Aggregate<State>,
  id: string,
  opts: ReadOptions = {},
): Promise<AggregateRead<State>> {
  const events = await store.readAggregate(aggregate.type, id, opts);
  return {
    state: events.reduce(aggregate.evolve, aggregate.initialState),
    version: events.at(-1)?.seq ?? 0,
    events,
  };
}

/** Read, fold, decide, append with the expected version: the sequence no caller re-types. */
export async function handleCommand<State>(
  store: Pick<EventStore, "readAggregate" | "append">,
  aggregate: Aggregate<State>,
  id: string,
  decide: CommandDecision<State>,
  opts: CommandOptions = {},
): Promise<CommandResult<State>> {
  const read: AggregateRead<State> = opts.newAggregate
    ? { state: aggregate.initialState, version: 0, events: [] }
    : // A decision reads everything the stream's leader holds for the aggregate, not what a replica
      // that is behind has (reads.ts); the append's expected version refuses what comes after.
      await aggregateStream(store, aggregate, id, { consistent: true, ...opts.read });
  const events = await decide(read.state, read);
  if (events.length === 0) return { read, events, appended: null };
  const appended = await store.append(events, {
    expectedVersion: opts.expectedVersion ?? (opts.newAggregate ? "none" : read.version),
    ...(opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey }),
  });
  return { read, events, appended };
}

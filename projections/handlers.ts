/**
 * A read model's handlers as a record keyed by event type. The record's
 * type is a mapped type over the event types the read model handles, so a
 * missing handler or one for a type outside them does not compile; the set
 * the projector filters on is the record's keys, so the two cannot drift.
 *
 * ```ts
 * type PlanEventType = Extract<EventType, `plan.${string}` | `approval.${string}` | "policy.decided">;
 * const planHandlers = {
 *   "plan.requested": (draft, event) => { ... },   // event: RecordedEventOf<"plan.requested">
 *   ...
 * } satisfies EventHandlers<PlanEventType, PlanDraft>;
 * const table = handlerTable<PlanEventType, PlanDraft>(planHandlers);
 * if (table.types.has(event.type)) table.apply(draft, event);
 * ```
 */
import type { AnyRecordedEvent, EventType } from "../events/index.ts";

/** The recorded event of one type. */
export type RecordedEventOf<T extends EventType> = Extract<AnyRecordedEvent, { type: T }>;

/** One handler per event type in `T`: (state being folded, event) → nothing (the handler updates the state). */
export type EventHandlers<T extends EventType, S> = {
  readonly [K in T]: (state: S, event: RecordedEventOf<K>) => void;
};

export interface HandlerTable<T extends EventType, S> {
  /** The event types handled: the record's keys. */
  readonly types: ReadonlySet<EventType>;
  /** Whether `event` is of a handled type. */
  handles(event: AnyRecordedEvent): event is RecordedEventOf<T>;
  /** Runs the handler of `event`'s type on `state`. */
  apply(state: S, event: RecordedEventOf<T>): void;
}

export function handlerTable<T extends EventType, S>(handlers: EventHandlers<T, S>): HandlerTable<T, S> {
  const types: ReadonlySet<EventType> = new Set(Object.keys(handlers) as T[]);
  const byType = handlers as unknown as Readonly<Record<string, (state: S, event: AnyRecordedEvent) => void>>;
  return {
    types,
    handles: (event): event is RecordedEventOf<T> => types.has(event.type),
    apply(state, event) {
      (byType[event.type] as (state: S, event: AnyRecordedEvent) => void)(state, event);
    },
  };
}

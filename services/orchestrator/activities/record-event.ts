/**
 * Appends one execution event, exactly once per execution, step and type:
 * its idempotency key is made of the three, and its id is derived from the
 * key, so a retried activity finds its event already there and appends
 * nothing. A step's detail and a rollback's reason quote tool output: the
 * text is redacted before it is appended.
 */
import { ApplicationFailure } from "@temporalio/activity";
import { v5 as uuidv5 } from "uuid";
import { type AnyEvent, newEvent } from "../../../events/index.ts";
import type { EventStore } from "../../../lib/eventstore/index.ts";
import type { RecordEventInput } from "../../../lib/orchestration/activities.ts";
import { createRedactor } from "../../../lib/redact/index.ts";
import { ORCHESTRATOR_ACTOR } from "./approval.ts";
import { attempt } from "./temporal.ts";

/** Namespace for the deterministic event ids (uuid v5 of the idempotency key). */
const EVENT_ID_NAMESPACE = "6f1c3a8e-5b7d-4e21-9c3f-0a4b8d2e7f15";

/** Memoryless, as the tool output it quotes: `[REDACTED:kind]`. */
const recordRedactor = createRedactor([], { stable: false });

export async function recordEvent(
  deps: { readonly store: EventStore; readonly now: () => Date },
  input: RecordEventInput,
): Promise<{ seq: number; duplicate: boolean }> {
  const { event } = input;
  const executionId = event.payload.execution_id;
  const step = "step_id" in event.payload && event.payload.step_id ? event.payload.step_id : "-";
  // A step's measurements are one event each: the provider and attempt tell them apart.
  const measurement = event.type === "execution.measured" ? `:${event.payload.provider}:${event.payload.attempt}` : "";
  const key = `${executionId}:${step}:${event.type}${measurement}`;
  const id = uuidv5(key, EVENT_ID_NAMESPACE);
  if (attempt() > 1) {
    // Past the stream's duplicate window the key alone would not catch a retry; the id does.
    const existing = (await deps.store.readAggregate("execution", executionId)).find((e) => e.id === id);
    if (existing) return { seq: existing.seq, duplicate: true };
  }
  let envelope: AnyEvent;
  try {
    // The draft union is checked at the call site; newEvent validates the payload again.
    envelope = newEvent(event.type, executionId, recordRedactor.redactValue(event.payload) as never, {
      actor: ORCHESTRATOR_ACTOR,
      correlation_id: input.correlation_id,
      causation_id: input.causation_id,
      occurred_at: deps.now().toISOString(),
      id,
    }) as AnyEvent;
  } catch (error) {
    throw ApplicationFailure.create({
      type: "InvalidEvent",
      nonRetryable: true,
      message: (error as Error).message,
      cause: error as Error,
    });
  }
  const result = await deps.store.append([envelope], { idempotencyKey: key });
  return { seq: result.seqs[0] as number, duplicate: result.duplicate };
}

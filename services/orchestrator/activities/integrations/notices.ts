/**
 * The `execution.notified` events of one execution: read before an
 * integration activity calls out, appended after. One event per execution,
 * channel and phase, under an id derived from the three (uuid v5) and the
 * same idempotency key, so a retried attempt finds what an earlier one
 * recorded and reuses its reference instead of making a second annotation,
 * incident, issue or pull request; two attempts racing append once.
 */
import { ApplicationFailure } from "@temporalio/activity";
import { v5 as uuidv5 } from "uuid";
import {
  type AnyEvent,
  type EventPayload,
  type NotificationChannel,
  newEvent,
  type RecordedEvent,
} from "../../../../events/index.ts";
import type { EventStore } from "../../../../lib/eventstore/index.ts";
import { ORCHESTRATOR_ACTOR } from "../approval.ts";

/** Namespace for the notices' event ids (uuid v5 of the idempotency key). */
const NOTICE_ID_NAMESPACE = "3c9e7a52-1f4d-4b8e-a6d0-5e2f9b7c4a13";

export type Notice = EventPayload<"execution.notified">;
export type RecordedNotice = RecordedEvent<"execution.notified", Notice>;

/** Where a notice sits in the execution's causal chain. */
export interface NoticeMeta {
  readonly execution_id: string;
  readonly correlation_id: string;
  readonly causation_id: string;
}

export function noticeKey(executionId: string, channel: NotificationChannel, phase: string): string {
  return `${executionId}:notified:${channel}:${phase}`;
}

export interface ExecutionNotices {
  /** The notice recorded for `channel` and `phase`, or null. */
  find(channel: NotificationChannel, phase: string): RecordedNotice | null;
  /** Appends the notice once; a second append of the same one is a no-op. */
  record(notice: Omit<Notice, "execution_id">): Promise<void>;
}

/** Reads the execution's notices once; `find` answers from that read. */
export async function readNotices(
  deps: { readonly store: EventStore; readonly now: () => Date },
  meta: NoticeMeta,
): Promise<ExecutionNotices> {
  const events = await deps.store.readAggregate("execution", meta.execution_id);
  const byId = new Map<string, RecordedNotice>();
  for (const e of events) if (e.type === "execution.notified") byId.set(e.id, e);
  const idOf = (channel: NotificationChannel, phase: string) =>
    uuidv5(noticeKey(meta.execution_id, channel, phase), NOTICE_ID_NAMESPACE);
  return {
    find: (channel, phase) => byId.get(idOf(channel, phase)) ?? null,
    async record(notice) {
      const key = noticeKey(meta.execution_id, notice.channel, notice.phase);
      let envelope: AnyEvent;
      try {
        envelope = newEvent(
          "execution.notified",
          meta.execution_id,
          { ...notice, execution_id: meta.execution_id },
          {
            actor: ORCHESTRATOR_ACTOR,
            correlation_id: meta.correlation_id,
            causation_id: meta.causation_id,
            occurred_at: deps.now().toISOString(),
            id: idOf(notice.channel, notice.phase),
          },
        ) as AnyEvent;
      } catch (error) {
        throw ApplicationFailure.create({
          type: "InvalidEvent",
          nonRetryable: true,
          message: (error as Error).message,
          cause: error as Error,
        });
      }
      await deps.store.append([envelope], { idempotencyKey: key });
    },
  };
}

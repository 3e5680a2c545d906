/**
 * What the projector could not project: recorded in `dead_letters` in the transaction that moves
 * the checkpoints past it, then copied to `<PREFIX>_DLQ` (best effort) once committed.
 */
import { storableText } from "../../events/index.ts";
import type { SqlClient, Statement } from "../../lib/db/sql.ts";
import { type DeadLetterReason, publishDeadLetter } from "../../lib/eventstore/index.ts";
import type { Item } from "./batch.ts";
import { describe, type ProjectorContext } from "./context.ts";

/** The dead-letter consumer of messages no projection could read; `projector:<name>` is one projection's. */
export const CONSUMER = "projector";

/** The consumer name of one projection's dead letters. */
export const consumerOf = (projection: string): string => `${CONSUMER}:${projection}`;

export interface Letter {
  readonly consumer: string;
  readonly item: Item;
  readonly error: unknown;
  /** Default: `handler_failed` for an event, `decode_error` for a message that is not one. */
  readonly reason?: DeadLetterReason | undefined;
  /** Keep the message's bytes out of Postgres (they are what could not be stored); the DLQ stream still gets them. */
  readonly withoutData?: boolean | undefined;
}

const reasonOf = (l: Letter): DeadLetterReason => l.reason ?? (l.item.event ? "handler_failed" : "decode_error");

/** Attempts made at the message: every retry for an event, one for a message that is not an event. */
const deliveriesOf = (ctx: ProjectorContext, l: Letter): number => (l.item.event ? ctx.retryBackoff.length + 1 : 1);

/** The INSERT of `letters` into `dead_letters` (a letter already there is kept), or null when there are none. */
export function deadLettersStatement(ctx: ProjectorContext, letters: readonly Letter[]): Statement | null {
  if (letters.length === 0) return null;
  const col = <T>(f: (l: Letter) => T) => letters.map(f);
  return {
    text: `INSERT INTO dead_letters (consumer, stream, seq, subject, event_id, event_type, reason, error, deliveries, data)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::int4[], $10::text[])
       ON CONFLICT (consumer, stream, seq) DO NOTHING`,
    values: [
      col((l) => l.consumer),
      col(() => ctx.store.streams.events),
      col((l) => l.item.raw.seq),
      col((l) => l.item.raw.subject),
      col((l) => l.item.event?.id ?? null),
      col((l) => l.item.event?.type ?? null),
      col(reasonOf),
      col((l) => describe(l.error).slice(0, 4000)),
      col((l) => deliveriesOf(ctx, l)),
      col((l) => (l.withoutData ? "" : storableText(Buffer.from(l.item.raw.data).toString("utf8")))),
    ],
  };
}

export async function recordDeadLetters(
  ctx: ProjectorContext,
  client: SqlClient,
  letters: readonly Letter[],
): Promise<void> {
  const statement = deadLettersStatement(ctx, letters);
  if (statement) await client.query(statement.text, statement.values);
}

/** Copies committed letters to the DLQ stream and logs each. */
export async function publishLetters(ctx: ProjectorContext, letters: readonly Letter[]): Promise<void> {
  const { nc, store, logger } = ctx;
  for (const l of letters) {
    try {
      await publishDeadLetter(nc, store.prefix, {
        consumer: l.consumer.replace(/[^A-Za-z0-9_-]/g, "_"),
        stream: store.streams.events,
        seq: l.item.raw.seq,
        subject: l.item.raw.subject,
        reason: reasonOf(l),
        error: describe(l.error),
        deliveries: deliveriesOf(ctx, l),
        eventId: l.item.event?.id ?? null,
        eventType: l.item.event?.type ?? null,
        data: l.item.raw.data,
      });
    } catch (e) {
      // Postgres already has it (same transaction as the checkpoint); the DLQ stream copy is best effort.
      logger?.warn({ seq: l.item.raw.seq, err: describe(e) }, "dead letter not copied to the DLQ stream");
    }
    logger?.error(
      { consumer: l.consumer, seq: l.item.raw.seq, type: l.item.event?.type, err: describe(l.error) },
      "event dead-lettered",
    );
  }
}

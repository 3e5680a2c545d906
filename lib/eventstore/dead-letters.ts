/**
 * Dead letters: poison events set aside on `<PREFIX>_DLQ` (one subject per consumer), so that a
 * failing event is visible without blocking its stream.
 */
import { type JetStreamManager, jetstream, type StoredMsg } from "@nats-io/jetstream";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import { storableText } from "../../events/index.ts";
import type { StreamNames } from "./streams.ts";

/**
 * Why an event was set aside. `store_failed`: even its dead-letter record could not be stored as
 * it was (the projector's last resort), so Postgres holds where it is and its digest, not its bytes.
 */
export type DeadLetterReason = "decode_error" | "handler_failed" | "max_deliveries" | "store_failed";

/** A poison event, as recorded on `<PREFIX>_DLQ` and handed to `onDeadLetter`. */
export interface DeadLetter {
  readonly consumer: string;
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly reason: DeadLetterReason;
  readonly error: string;
  readonly deliveries: number;
  readonly eventId: string | null;
  readonly eventType: string | null;
  /** The original message body. */
  readonly data: Uint8Array;
}

export async function publishDeadLetter(nc: NatsConnection, prefix: string, letter: DeadLetter): Promise<void> {
  const js = jetstream(nc);
  const h = natsHeaders();
  h.set("Wh-Dlq-Consumer", letter.consumer);
  h.set("Wh-Dlq-Stream", letter.stream);
  h.set("Wh-Dlq-Seq", String(letter.seq));
  h.set("Wh-Dlq-Subject", letter.subject);
  h.set("Wh-Dlq-Reason", letter.reason);
  h.set("Wh-Dlq-Deliveries", String(letter.deliveries));
  // A header value is one line of text: no control characters (an error may quote the event's own).
  h.set("Wh-Dlq-Error", storableText(letter.error.replace(/\p{Cc}+/gu, " ").slice(0, 1000)));
  if (letter.eventId) h.set("Wh-Dlq-Event-Id", letter.eventId);
  if (letter.eventType) h.set("Wh-Dlq-Event-Type", letter.eventType);
  // One dead letter per consumer and sequence, even if recorded twice (crash between record and term).
  await js.publish(`${prefix}.dlq.${letter.consumer}`, letter.data, {
    headers: h,
    msgID: `${letter.consumer}:${letter.stream}:${letter.seq}`,
  });
}

/** Dead letters recorded for a consumer (or all), oldest first. */
export async function listDeadLetters(
  jsm: JetStreamManager,
  prefix: string,
  names: StreamNames,
  consumer?: string,
): Promise<DeadLetter[]> {
  const info = await jsm.streams.info(names.dlq);
  if (info.state.messages === 0) return [];
  const out: DeadLetter[] = [];
  let seq = info.state.first_seq;
  const subject = consumer ? `${prefix}.dlq.${consumer}` : `${prefix}.dlq.>`;
  for (;;) {
    const iter = await jsm.direct.getBatch(names.dlq, { seq, next_by_subj: subject, batch: 500 });
    let n = 0;
    const items: StoredMsg[] = [];
    try {
      for await (const m of iter) items.push(m);
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
    }
    for (const m of items) {
      n++;
      seq = m.seq + 1;
      const h = m.header;
      out.push({
        consumer: h.get("Wh-Dlq-Consumer"),
        stream: h.get("Wh-Dlq-Stream"),
        seq: Number(h.get("Wh-Dlq-Seq")),
        subject: h.get("Wh-Dlq-Subject"),
        reason: h.get("Wh-Dlq-Reason") as DeadLetterReason,
        error: h.get("Wh-Dlq-Error"),
        deliveries: Number(h.get("Wh-Dlq-Deliveries")),
        eventId: h.get("Wh-Dlq-Event-Id") || null,
        eventType: h.get("Wh-Dlq-Event-Type") || null,
        data: m.data,
      });
    }
    if (n < 500) return out;
  }
}

/** An error as one line of text: its name and message (anything else as a string). */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

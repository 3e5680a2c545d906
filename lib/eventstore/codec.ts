/** Events on the wire: the envelope as JSON, plus where the stream put it. */
import { type AnyEvent, type AnyRecordedEvent, decodeEvent } from "../../events/index.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEvent(event: AnyEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

/** Where a message sits in its stream. */
export interface Position {
  readonly seq: number;
  readonly stream: string;
  readonly subject: string;
}

/**
 * Parses, validates and upcasts a stored message. Throws `ValidationError`
 * (or `UnknownEventTypeError`) for a message that is not a valid event.
 */
export function decodeRecorded(data: Uint8Array, at: Position): AnyRecordedEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (cause) {
    throw new PoisonMessageError(`message ${at.stream}#${at.seq} is not JSON`, { cause });
  }
  const event = decodeEvent(raw);
  return { ...event, seq: at.seq, stream: at.stream, subject: at.subject } as AnyRecordedEvent;
}

/** A stored message that can never become an event: it goes to the dead-letter record. */
export class PoisonMessageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PoisonMessageError";
  }
}

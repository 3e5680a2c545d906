/**
 * Events on the wire: the envelope as JSON, plus where the stream put it.
 * Both directions make strings storable (events/storable.ts): no NUL and no
 * unpaired surrogate is ever appended, and one put on the stream by another
 * writer reaches readers as U+FFFD instead of failing their stores.
 */
import {
  type AnyEvent,
  type AnyRecordedEvent,
  decodeEvent,
  mayHoldUnstorableEscape,
  storableValue,
} from "../../events/index.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEvent(event: AnyEvent): Uint8Array {
  const json = JSON.stringify(event);
  // JSON.stringify escapes exactly NUL and unpaired surrogates as \u0000 / \udXXX, so one scan of the
  // text tells whether anything needs cleaning; the walk runs only then.
  return encoder.encode(mayHoldUnstorableEscape(json) ? JSON.stringify(storableValue(event)) : json);
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
  const text = decoder.decode(data);
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new PoisonMessageError(`message ${at.stream}#${at.seq} is not JSON`, { cause });
  }
  if (mayHoldUnstorableEscape(text)) raw = storableValue(raw);
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

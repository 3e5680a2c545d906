/**
 * Text every store can hold. An event is immutable once appended and every
 * read model must be able to take it, so strings in events never contain:
 *
 * - NUL (U+0000): Postgres refuses it in `text` and in `jsonb` (`\u0000`);
 * - a UTF-16 surrogate outside a pair: not a Unicode character, it has no
 *   UTF-8 form, and `jsonb` refuses its `\udXXX` escape.
 *
 * Both are replaced by U+FFFD (the replacement character) rather than
 * refused: the event still records the fact (a refused tool call with a NUL
 * in its input is still recorded as refused), only the unrepresentable
 * character is marked as such. Keys are cleaned like values. The event
 * store applies this when it encodes an event (so nothing unstorable is ever
 * appended) and when it decodes one (so a message put on the stream by
 * another writer cannot stop a reader).
 */

/** True when `s` holds a NUL or an unpaired surrogate. */
export function isUnstorableText(s: string): boolean {
  return s.includes("\0") || !s.isWellFormed();
}

/** `s` with NUL and unpaired surrogates replaced by U+FFFD; `s` itself when it has neither. */
export function storableText(s: string): string {
  if (!isUnstorableText(s)) return s;
  return s.replaceAll("\0", "\uFFFD").toWellFormed();
}

/**
 * A JSON value with every string (keys included) made storable. Copy on
 * write: returns the same value, untouched, when nothing needed a change.
 */
export function storableValue<T>(value: T): T {
  return clean(value) as T;
}

function clean(value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const c = clean(item);
      if (c !== item && out === null) out = value.slice(0, i);
      if (out !== null) out.push(c);
    }
    return out ?? value;
  }
  // Objects that serialize themselves (Date, Buffer) are left to JSON.stringify.
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value;
  const entries = Object.entries(value as Record<string, unknown>);
  let changed = false;
  const cleaned = entries.map(([k, v]) => {
    const ck = storableText(k);
    const cv = clean(v);
    if (ck !== k || cv !== v) changed = true;
    return [ck, cv] as const;
  });
  return changed ? Object.fromEntries(cleaned) : value;
}

/**
 * Whether a JSON text may hold an escape that decodes to something
 * unstorable (`\u0000`, or a `\udXXX` surrogate escape). A cheap pre-check on
 * the hot path: false means the text is certainly clean; true means "walk
 * the parsed value" (a valid escaped surrogate pair also matches, harmlessly).
 */
export function mayHoldUnstorableEscape(json: string): boolean {
  return UNSTORABLE_ESCAPE.test(json);
}

const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/**
 * Splits one output stream of a tool into lines, masking the exact values of
 * the secrets injected into the call on the way (the sandbox's first
 * redaction; the detectors run on each line afterwards).
 *
 * A line longer than `maxLineBytes` is cut into pieces, so a tool printing no
 * newline cannot grow a buffer without bound. No piece holds part of an
 * injected secret: a cut never falls inside an occurrence of one, and the
 * bytes a secret starting before the cut could still reach (the longest
 * secret's length − 1) wait for the next piece, so every occurrence lies
 * whole in one piece and is masked there. Only when one run of overlapping
 * occurrences fills a whole piece does a cut fall inside it; the piece is then
 * masked to its end and the next one from its start up to where the run ends.
 * A cut never splits a UTF-8 character either. Memory stays under
 * `maxLineBytes` plus the longest secret plus one chunk.
 */
import { INJECTED_SECRET, type Span, secretLiterals, secretSpans } from "../redact/index.ts";

/** The sandbox's cut: a line longer than this is passed on in pieces. */
export const MAX_LINE_BYTES = 64 * 1024;

export interface LineSplitterOptions {
  /** The call's injected secrets (each value, and each line of a multi-line value, is masked). */
  readonly secrets: Iterable<string>;
  /** Longest piece of a line passed on at once, in bytes; default `MAX_LINE_BYTES`. */
  readonly maxLineBytes?: number | undefined;
  /**
   * Called with each line (without its "\n") or piece of a line, its secrets replaced by
   * `INJECTED_SECRET`, and the number of bytes the tool wrote for it.
   */
  readonly onLine: (line: string, bytes: number) => void;
}

export interface LineSplitter {
  /** Takes the next chunk of the stream; calls `onLine` for every line or piece it completes. */
  push(chunk: Buffer): void;
  /** The stream ended: passes on what is left of the last line, if anything. */
  end(): void;
}

export function createLineSplitter(options: LineSplitterOptions): LineSplitter {
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 4) {
    throw new RangeError(`maxLineBytes must be an integer of at least 4 (a UTF-8 character), got ${maxLineBytes}`);
  }
  const needles = secretLiterals(options.secrets).map((s) => Buffer.from(s, "utf8"));
  // An occurrence starting before a cut ends at most this many bytes after it.
  const holdBack = needles.reduce((most, n) => Math.max(most, n.length - 1), 0);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // Bytes at the start of the pending line that belong to an occurrence masked in the last piece.
  let covered = 0;

  const take = (): Buffer => {
    const line = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return line;
  };

  const passOn = (line: Buffer) => {
    const spans = secretSpans(line, needles, covered);
    covered = 0;
    options.onLine(masked(line, spans), line.length);
  };

  /**
   * Passes on pieces of the pending line while it is longer than a piece may be, then, once the
   * line is `complete`, the rest of it. An unfinished line keeps `holdBack` bytes more: a secret
   * starting before the cut may still be arriving.
   */
  const drain = (complete: boolean) => {
    const limit = complete ? maxLineBytes : maxLineBytes + holdBack;
    while (pendingBytes > limit) {
      const line = take();
      const spans = secretSpans(line, needles, covered);
      let cut = charStart(line, maxLineBytes);
      let stillCovered = 0;
      const inside = spans.find(([start, end]) => start < cut && cut < end);
      if (inside !== undefined) {
        // Cut before the occurrence; if it starts the piece, mask to the cut and carry the rest.
        if (inside[0] > 0) cut = inside[0];
        else stillCovered = inside[1] - cut;
      }
      const piece = line.subarray(0, cut);
      options.onLine(masked(piece, spans), piece.length);
      // A copy: the carried bytes must not keep the whole chunk alive.
      const rest = Buffer.from(line.subarray(cut));
      pending = [rest];
      pendingBytes = rest.length;
      covered = stillCovered;
    }
    if (complete) passOn(take());
  };

  return {
    push(chunk) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        const tail = chunk.subarray(start, nl);
        pending.push(tail);
        pendingBytes += tail.length;
        drain(true);
        start = nl + 1;
      }
      if (start < chunk.length) {
        const rest = Buffer.from(chunk.subarray(start));
        pending.push(rest);
        pendingBytes += rest.length;
        drain(false);
      }
    },
    end() {
      if (pendingBytes > 0) drain(true);
    },
  };
}

/** `at`, moved back to the first byte of the UTF-8 character it falls in (at most 3 bytes, never to 0). */
function charStart(bytes: Buffer, at: number): number {
  let cut = at;
  // 0b10xxxxxx is a continuation byte: the character began before it.
  while (cut > 1 && at - cut < 3 && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
  return cut;
}

/** The text of `bytes` with every span (clipped to `bytes`) replaced by `INJECTED_SECRET`. */
function masked(bytes: Buffer, spans: readonly Span[]): string {
  let out = "";
  let last = 0;
  for (const [start, end] of spans) {
    if (start >= bytes.length) break;
    out += bytes.toString("utf8", last, start) + INJECTED_SECRET;
    last = Math.min(end, bytes.length);
  }
  return out + bytes.toString("utf8", last);
}

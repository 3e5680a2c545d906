/** The sandbox's line splitter: long lines are cut, and no piece ever holds part of an injected secret. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INJECTED_SECRET } from "../redact/index.ts";
import { createLineSplitter, MAX_LINE_BYTES } from "./output-lines.ts";

interface Piece {
  readonly text: string;
  readonly bytes: number;
}

/** Feeds `output` in chunks of `chunkBytes` and returns what the splitter passed on. */
function split(
  output: string,
  secrets: readonly string[],
  maxLineBytes: number | undefined,
  chunkBytes = 1 << 20,
): Piece[] {
  const pieces: Piece[] = [];
  const splitter = createLineSplitter({ secrets, maxLineBytes, onLine: (text, bytes) => pieces.push({ text, bytes }) });
  const raw = Buffer.from(output, "utf8");
  for (let at = 0; at < raw.length; at += chunkBytes) splitter.push(raw.subarray(at, at + chunkBytes));
  splitter.end();
  return pieces;
}

/**
 * Asserts that the pieces, their placeholders taken out, read `filler` (the output without its
 * secrets) and that no piece holds anything else: no character of a secret, no broken character.
 */
function assertMasked(pieces: readonly Piece[], filler: string, context: string): void {
  const joined = pieces.map((p) => p.text).join("");
  assert.ok(joined.includes(INJECTED_SECRET), `${context}: no placeholder in ${JSON.stringify(pieces)}`);
  assert.equal(joined.replaceAll(INJECTED_SECRET, ""), filler, `${context}: ${JSON.stringify(pieces)}`);
}

const CUT = 16;
const CHUNKS = [1, 5, CUT, 1 << 20];

describe("output line splitter", () => {
  it("passes complete lines on as they are, one call per line, with their sizes", () => {
    const pieces = split("deployment.apps/checkout scaled\nok\n\nlast", [], CUT * 4, 7);
    assert.deepEqual(pieces, [
      { text: "deployment.apps/checkout scaled", bytes: 31 },
      { text: "ok", bytes: 2 },
      { text: "", bytes: 0 },
      { text: "last", bytes: 4 },
    ]);
  });

  it("cuts an endless line into pieces no longer than the cut size", () => {
    for (const chunk of CHUNKS) {
      const pieces = split("y".repeat(100), [], CUT, chunk);
      assert.equal(pieces.map((p) => p.text).join(""), "y".repeat(100));
      assert.ok(
        pieces.every((p) => p.bytes <= CUT),
        JSON.stringify(pieces),
      );
      assert.ok(pieces.length >= 100 / CUT, `chunks of ${chunk}: ${pieces.length} pieces`);
    }
  });

  it("masks a secret that straddles the cut, at every offset and with every chunk size", () => {
    const secret = "tok-4F9A8B7C";
    for (const chunk of CHUNKS) {
      for (let offset = 0; offset <= 3 * CUT; offset++) {
        const before = ".".repeat(offset);
        const after = ".".repeat(2 * CUT);
        for (const end of ["", "\n"]) {
          const pieces = split(`${before}${secret}${after}${end}`, [secret], CUT, chunk);
          assertMasked(pieces, before + after, `offset ${offset}, chunks of ${chunk}`);
          assert.ok(
            pieces.every((p) => p.bytes <= CUT),
            JSON.stringify(pieces),
          );
        }
      }
    }
  });

  it("masks secrets shorter than, as long as and longer than the cut, at every offset", () => {
    for (const length of [4, 5, CUT - 1, CUT, CUT + 1, 3 * CUT + 5]) {
      const secret = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789".repeat(3).slice(0, length);
      for (const chunk of [1, 7, 1 << 20]) {
        for (let offset = 0; offset <= 2 * CUT + 1; offset++) {
          const before = ".".repeat(offset);
          const pieces = split(`${before}${secret}${".".repeat(CUT + 3)}`, [secret], CUT, chunk);
          assertMasked(pieces, before + ".".repeat(CUT + 3), `length ${length}, offset ${offset}, chunks of ${chunk}`);
          assert.ok(
            pieces.every((p) => p.bytes <= CUT),
            JSON.stringify(pieces),
          );
        }
      }
    }
  });

  it("masks overlapping secrets whole, wherever the cut falls", () => {
    const cases: { secrets: string[]; text: string }[] = [
      // The end of one is the start of the other.
      { secrets: ["ABCD1234", "1234WXYZ"], text: "ABCD1234WXYZ" },
      // One inside the other, and a shorter one straddling their join.
      { secrets: ["KEY-ABCDEFGH", "CDEF", "GHIJ"], text: "KEY-ABCDEFGHIJ" },
      // Back to back, then the same value again.
      { secrets: ["QWERTY12"], text: "QWERTY12QWERTY12" },
    ];
    for (const c of cases) {
      for (const chunk of [1, 3, 1 << 20]) {
        for (let offset = 0; offset <= 2 * CUT; offset++) {
          const before = ".".repeat(offset);
          const pieces = split(`${before}${c.text}${".".repeat(CUT)}`, c.secrets, CUT, chunk);
          assertMasked(pieces, before + ".".repeat(CUT), `${c.text}, offset ${offset}, chunks of ${chunk}`);
        }
      }
    }
  });

  it("masks a run of overlapping occurrences longer than a piece from its start to its end", () => {
    // "ABAB" occurs at every other byte: the run fills whole pieces, so cuts fall inside it.
    for (const chunk of [1, 5, 1 << 20]) {
      for (const before of ["", ".", "...."]) {
        for (let pairs = 2; pairs <= 2 * CUT; pairs++) {
          const after = ".".repeat(CUT);
          const pieces = split(`${before}${"AB".repeat(pairs)}${after}`, ["ABAB"], CUT, chunk);
          assertMasked(pieces, before + after, `chunks of ${chunk}, ${before.length} before, ${pairs} pairs`);
          assert.ok(
            pieces.every((p) => p.bytes <= CUT),
            JSON.stringify(pieces),
          );
        }
      }
    }
  });

  it("never cuts inside a UTF-8 character, nor inside a secret that has some", () => {
    const secret = "pässwörd-€-42";
    for (const ch of ["é", "€", "😀"]) {
      for (let offset = 0; offset <= 2 * CUT; offset++) {
        for (const chunk of [1, 1 << 20]) {
          const before = ".".repeat(offset) + ch.repeat(5);
          const after = ch.repeat(CUT);
          const pieces = split(`${before}${secret}${after}`, [secret], CUT, chunk);
          assertMasked(pieces, before + after, `${ch}, offset ${offset}, chunks of ${chunk}`);
          assert.equal(
            pieces
              .map((p) => p.text)
              .join("")
              .includes("\uFFFD"),
            false,
            JSON.stringify(pieces),
          );
        }
      }
    }
  });

  it("masks every line of a multi-line secret, each on the line the tool prints it", () => {
    const key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----";
    const pieces = split(`a\n${key}\nb`, [key], 4 * CUT);
    assert.deepEqual(
      pieces.map((p) => p.text),
      ["a", INJECTED_SECRET, INJECTED_SECRET, INJECTED_SECRET, "b"],
    );
  });

  it("ignores values shorter than 4 characters, and cuts without holding back when there is no secret", () => {
    const pieces = split(`${"x".repeat(CUT - 1)}abc${"x".repeat(CUT)}`, ["abc"], CUT, 1);
    assert.equal(pieces[0]?.text, `${"x".repeat(CUT - 1)}a`);
    assert.equal(pieces[0]?.bytes, CUT);
  });

  it("cuts at 64 KiB by default and refuses a cut size under 4 bytes", () => {
    assert.equal(MAX_LINE_BYTES, 64 * 1024);
    const pieces = split("z".repeat(MAX_LINE_BYTES + 10), [], undefined, 4096);
    assert.deepEqual(
      pieces.map((p) => p.bytes),
      [MAX_LINE_BYTES, 10],
    );
    assert.throws(() => createLineSplitter({ secrets: [], maxLineBytes: 3, onLine: () => {} }), /at least 4/);
  });
});

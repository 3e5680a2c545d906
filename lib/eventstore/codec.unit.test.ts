import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Actor,
  type AnyEvent,
  isUnstorableText,
  mayHoldUnstorableEscape,
  newEvent,
  storableText,
  storableValue,
} from "../../events/index.ts";
import { decodeRecorded, encodeEvent, PoisonMessageError } from "./codec.ts";

const at = { seq: 7, stream: "T_EVENTS", subject: "t.evt.signal.s1" };
const actor: Actor = { kind: "service", id: "tool-router", roles: [] };

/** A refused tool call as the tool router recorded it: the error quotes a NUL in an annotation key. */
function refusedCall(error: string): AnyEvent {
  return {
    ...newEvent(
      "tool_call.completed",
      "exec-1",
      {
        execution_id: "exec-1",
        tool_call_id: "exec-1-t1",
        step_id: "s1",
        status: "refused",
        exit_code: null,
        duration_ms: 0,
        truncated: false,
      },
      { actor, correlation_id: "corr-1" },
    ),
    // Set after newEvent, as a writer that does not build events with it would.
    payload: {
      execution_id: "exec-1",
      tool_call_id: "exec-1-t1",
      step_id: "s1",
      status: "refused",
      exit_code: null,
      duration_ms: 0,
      truncated: false,
      error,
    },
  } as AnyEvent;
}

describe("storable text", () => {
  const cases: [string, string, string][] = [
    ["NUL", "team\u0000x", "team\uFFFDx"],
    ["lone high surrogate", "a\uD800b", "a\uFFFDb"],
    ["lone low surrogate at the end", "ab\uDC00", "ab\uFFFD"],
    ["reversed pair", "\uDC00\uD800", "\uFFFD\uFFFD"],
    ["a real pair (emoji) is kept", "ok \u{1F680}", "ok \u{1F680}"],
    ["the text \\u0000 is not a NUL", "\\u0000", "\\u0000"],
    ["plain", "scale checkout to 3", "scale checkout to 3"],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => {
      assert.equal(storableText(input), want);
      assert.equal(isUnstorableText(want), false);
    });
  }

  test("values: keys and nested strings cleaned, untouched values returned as they are", () => {
    const clean = { a: ["x", { b: 1 }], c: null, d: true };
    assert.equal(storableValue(clean), clean, "copy on write: nothing to change, same object");
    const dirty = { annotations: { "team\u0000x": "v", ok: "w\uD800" }, list: ["fine", "n\u0000l"], n: 3 };
    const out = storableValue(dirty);
    assert.deepEqual(out, { annotations: { "team\uFFFDx": "v", ok: "w\uFFFD" }, list: ["fine", "n\uFFFDl"], n: 3 });
    assert.equal(dirty.annotations["team\u0000x"], "v", "the input is not changed");
  });

  test("the JSON pre-check finds every escape JSON.stringify makes for them, and nothing in clean text", () => {
    assert.equal(mayHoldUnstorableEscape(JSON.stringify({ k: "a\u0000" })), true);
    assert.equal(mayHoldUnstorableEscape(JSON.stringify({ k: "a\uD83D" })), true);
    assert.equal(mayHoldUnstorableEscape(JSON.stringify({ "k\u0000": "a" })), true);
    assert.equal(mayHoldUnstorableEscape(JSON.stringify({ k: "ok \u{1F680} caf\u00e9 \t\n" })), false);
  });
});

describe("codec", () => {
  test("newEvent hands out the event the stream will hold", () => {
    const e = newEvent(
      "signal.received",
      "s1",
      {
        signal_id: "s1",
        source: "alertmanager",
        kind: "alert",
        dedupe_key: "k",
        summary: "disk \u0000 full",
        annotations: { "team\u0000x": "sre" },
      },
      { actor, correlation_id: "c" },
    );
    assert.equal(e.payload.summary, "disk \uFFFD full");
    assert.deepEqual(e.payload.annotations, { "team\uFFFDx": "sre" });
  });

  test("encode: no NUL and no unpaired surrogate reaches the stream, the fact is still recorded", () => {
    const bytes = encodeEvent(refusedCall('annotation key "team\u0000x" holds a NUL byte \uD800'));
    const text = new TextDecoder().decode(bytes);
    assert.equal(mayHoldUnstorableEscape(text), false, text);
    const back = decodeRecorded(bytes, at);
    assert.equal(back.type, "tool_call.completed");
    assert.equal((back.payload as { error?: string }).error, 'annotation key "team\uFFFDx" holds a NUL byte \uFFFD');
  });

  test("encode: a clean event is encoded exactly as JSON.stringify does", () => {
    const e = refusedCall("exit 1 \u{1F680}");
    assert.deepEqual(encodeEvent(e), new TextEncoder().encode(JSON.stringify(e)));
  });

  test("decode: a message written by someone else with \\u0000 and a lone surrogate escape decodes clean", () => {
    const e = refusedCall("x");
    const raw = JSON.stringify(e).replace('"error":"x"', '"error":"a\\u0000b\\udc00"');
    const back = decodeRecorded(new TextEncoder().encode(raw), at);
    assert.equal((back.payload as { error?: string }).error, "a\uFFFDb\uFFFD");
  });

  test("decode: a raw NUL byte inside a string is not JSON: a poison message", () => {
    const bytes = Buffer.concat([Buffer.from('{"id":"x","type":"plan.'), Buffer.from([0]), Buffer.from('"}')]);
    assert.throws(() => decodeRecorded(bytes, at), PoisonMessageError);
  });
});

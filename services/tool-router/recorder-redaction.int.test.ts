/**
 * Tool inputs and outputs never store a secret: every kind of secret in the
 * corpus (test/fixtures/redaction/kinds.json), handed to the recorder in a
 * tool call's argv, its output lines, its error and its evidence blob, is
 * looked for raw in every stream message and every evidence file it wrote.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../lib/config/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createEvidenceStore } from "../../lib/evidence/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { leaked, loadCorpus } from "../../test/fixtures/redaction/corpus.ts";
import { createTestEventStore, type TestEventStore } from "../../test/support/index.ts";
import { createToolCallRecorder, type ToolCallRecorder } from "./recorder.ts";

const { kinds } = loadCorpus();
const logger = createLogger({ service: "recorder-redaction-test", level: "silent" });

describe("tool inputs and outputs are redacted before they are recorded (real NATS, evidence store)", () => {
  let dir: string;
  let events: TestEventStore;
  let store: EventStore;
  let recorder: ToolCallRecorder;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-recorder-redaction-"));
    events = await createTestEventStore("recred", { logger });
    store = events.store;
    const evidence = createEvidenceStore(
      parseConfig({ storage: { evidence: { kind: "local", path: join(dir, "evidence") } } }).storage.evidence,
    );
    recorder = createToolCallRecorder({ store, evidence, logger });
  });

  after(async () => {
    await events.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  async function streamText(): Promise<string> {
    const jsm = await store.manager();
    const parts: string[] = [];
    for (const name of Object.values(store.streams)) {
      const info = await jsm.streams.info(name);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
        if (m !== null) parts.push(new TextDecoder().decode(m.data));
      }
    }
    return parts.join("\n");
  }

  async function evidenceText(): Promise<string> {
    const root = join(dir, "evidence");
    const files = await readdir(root, { recursive: true, withFileTypes: true });
    const texts = await Promise.all(
      files.filter((f) => f.isFile()).map((f) => readFile(join(f.parentPath, f.name), "utf8")),
    );
    return texts.join("\n");
  }

  it("argv, output lines, errors and evidence of every kind: zero leaks", async () => {
    for (const [i, { kind, text }] of kinds.entries()) {
      const ids = { execution_id: `exec-${i}`, tool_call_id: `call-${i}` };
      const argv = [
        "kubectl",
        "annotate",
        "deployment/checkout",
        `note=${text}`,
        "--token",
        text.split(/\s/).pop() ?? "",
      ];
      await recorder.onEvent({
        type: "tool_call.started",
        payload: {
          ...ids,
          step_id: "s1",
          action_id: "kubectl.annotate",
          argv,
          binary: "/usr/bin/kubectl",
          via: "cli",
          dry_run: false,
        },
      });
      for (const [seq, line] of text.split("\n").entries()) {
        await recorder.onEvent({ type: "tool_call.output", payload: { ...ids, seq, stream: "stderr", text: line } });
      }
      const stored = await recorder.storeEvidence(
        "tool_output",
        new TextEncoder().encode(JSON.stringify({ ...ids, argv, stdout: text, stderr: `error: ${text}` })),
        ids,
      );
      await recorder.onEvent({
        type: "tool_call.completed",
        payload: {
          ...ids,
          step_id: "s1",
          action_id: "kubectl.annotate",
          via: "cli",
          status: "failed",
          exit_code: 1,
          duration_ms: 12,
          truncated: false,
          evidence_id: stored.evidence_id,
          error: `kubectl failed (${kind}): ${text}`,
        },
      });
    }
    const stream = await streamText();
    const evidence = await evidenceText();
    assert.match(stream, /\[REDACTED:[a-z0-9_]+\]/, "the calls were recorded, redacted");
    assert.match(evidence, /\[REDACTED:[a-z0-9_]+\]/);
    const leaks = kinds.flatMap(({ kind, secrets }) => [
      ...(secrets.some((s) => leaked(stream, s)) ? [`${kind} → stream`] : []),
      ...(secrets.some((s) => leaked(evidence, s)) ? [`${kind} → evidence`] : []),
    ]);
    assert.deepEqual(leaks, []);
  });
});

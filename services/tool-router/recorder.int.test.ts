import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { parseConfig } from "../../lib/config/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createEvidenceStore, type EvidenceStore } from "../../lib/evidence/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { findExecutable, loadCatalog } from "../../lib/tools/index.ts";
import {
  clusterToolPath,
  createTestDeployment,
  createTestEventStore,
  createTestNamespace,
  FIXTURE_BIN,
  type TestEventStore,
  type TestNamespace,
  testCluster,
  uniqueName,
} from "../../test/support/index.ts";
import { createToolCallRecorder } from "./recorder.ts";
import { createToolRouter, type ToolRouter } from "./router.ts";
import { createSandboxProcessRunner } from "./spawn.ts";

const VAULT_TOKEN = "hvs.recorder-vault-token-0123456789abcdef";
const NEW_PASSWORD = "rec0rder-db-password-never-seen";
const logger = createLogger({ service: "recorder-test", level: "silent" });

describe("tool calls become events and evidence (real NATS, evidence store, kubectl against the local cluster)", () => {
  let dir: string;
  let events: TestEventStore;
  let store: EventStore;
  let evidence: EvidenceStore;
  let router: ToolRouter;
  let ns: TestNamespace;

  before(async () => {
    ns = await createTestNamespace("wh-recorder");
    await createTestDeployment(ns.name, "checkout", { replicas: 2 });
    dir = await mkdtemp(join(tmpdir(), "wh-recorder-"));
    events = await createTestEventStore("rec", { logger });
    store = events.store;
    evidence = createEvidenceStore(
      parseConfig({ storage: { evidence: { kind: "local", path: join(dir, "evidence") } } }).storage.evidence,
    );
    const toolPath = clusterToolPath(FIXTURE_BIN);
    const env = {
      PATH: toolPath,
      HOME: dir,
      KUBECONFIG: testCluster.kubeconfig,
      WH_FIXTURE_ARGV_LOG: join(dir, "argv.log"),
      WHEELHOUSE_TOOLS__ENV_ALLOW: "[PATH, HOME, KUBECONFIG, WH_FIXTURE_ARGV_LOG]",
      WHEELHOUSE_TOOLS__CREDENTIALS: "{vault: {VAULT_TOKEN: 'env:WH_TEST_VAULT_TOKEN'}}",
      WHEELHOUSE_TOOLS__SECRET_SOURCES: "['env:WH_NEW_DB_*']",
      WH_TEST_VAULT_TOKEN: VAULT_TOKEN,
      WH_NEW_DB_PASSWORD: NEW_PASSWORD,
    };
    router = createToolRouter({
      catalog: loadCatalog(),
      runInSandbox: createSandboxProcessRunner({ env }),
      isInstalled: async (binary) => (await findExecutable(binary, toolPath)) !== null,
      ...createToolCallRecorder({ store, evidence, logger }),
    });
  });

  after(async () => {
    await events.teardown();
    await ns.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  async function outputChunks(executionId: string): Promise<AnyRecordedEvent[]> {
    const jsm = await store.manager();
    const info = await jsm.streams.info(store.streams.output);
    const chunks: AnyRecordedEvent[] = [];
    const js = (await import("@nats-io/jetstream")).jetstream(events.nc);
    const consumer = await js.consumers.get(store.streams.output, {
      filter_subjects: [`${store.prefix}.out.execution.${executionId}`],
    });
    if (info.state.messages === 0) return chunks;
    const messages = await consumer.fetch({ max_messages: 1000, expires: 1000 });
    for await (const m of messages) {
      chunks.push(m.json<AnyRecordedEvent>());
      if (m.info.pending === 0) break;
    }
    return chunks;
  }

  it("records started, output and completed on the execution, with the output as verified evidence", async () => {
    const executionId = uniqueName("x");
    const result = await router.executeTool({
      execution_id: executionId,
      step_id: "s1",
      tool_call_id: "tc1",
      action_id: "kubectl.scale",
      input: { kind: "deployment", name: "checkout", namespace: ns.name, replicas: 4 },
    });
    assert.equal(result.status, "succeeded");
    const history = await store.readAggregate("execution", executionId);
    assert.deepEqual(
      history.map((e) => e.type),
      ["tool_call.started", "evidence.stored", "tool_call.completed"],
    );
    const [started, stored, completed] = history;
    assert.ok(started?.type === "tool_call.started");
    assert.deepEqual(started.payload.argv, [
      "kubectl",
      "scale",
      "deployment/checkout",
      "--replicas=4",
      `--namespace=${ns.name}`,
    ]);
    assert.ok(completed?.type === "tool_call.completed" && stored?.type === "evidence.stored");
    assert.equal(completed.payload.exit_code, 0);
    assert.equal(completed.payload.evidence_id, stored.payload.evidence_id);
    assert.equal(stored.payload.kind, "tool_output");
    const blob = JSON.parse((await evidence.readEvidence(stored.payload)).toString("utf8")) as { stdout: string };
    assert.equal(blob.stdout, "deployment.apps/checkout scaled");

    const chunks = await outputChunks(executionId);
    assert.deepEqual(
      chunks.map((c) => c.type === "tool_call.output" && c.payload.text),
      ["deployment.apps/checkout scaled"],
    );
  });

  it("stores a dry run's diff as evidence of kind diff", async () => {
    const executionId = uniqueName("x");
    await router.executeTool({
      execution_id: executionId,
      step_id: "s1",
      action_id: "kubectl.scale",
      dry_run: true,
      input: { kind: "deployment", name: "checkout", namespace: ns.name, replicas: 5 },
    });
    const stored = (await store.readAggregate("execution", executionId)).find((e) => e.type === "evidence.stored");
    assert.ok(stored?.type === "evidence.stored");
    assert.equal(stored.payload.kind, "diff");
  });

  it("never lets a secret the tool prints reach events or evidence (fixture vault)", async () => {
    const executionId = uniqueName("x");
    const result = await router.executeTool({
      execution_id: executionId,
      step_id: "s1",
      action_id: "vault.kv_put",
      input: { path: "apps/checkout/db", cas: 4, data_refs: { password: "env:WH_NEW_DB_PASSWORD" } },
    });
    assert.equal(result.status, "succeeded", result.stderr.text);
    const history = await store.readAggregate("execution", executionId);
    const stored = history.find((e) => e.type === "evidence.stored");
    assert.ok(stored?.type === "evidence.stored");
    const everything = [
      JSON.stringify(history),
      JSON.stringify(await outputChunks(executionId)),
      (await evidence.readEvidence(stored.payload)).toString("utf8"),
    ].join("\n");
    assert.ok(everything.includes("[REDACTED:"), "the tool did print the secret, redacted");
    assert.equal(everything.includes(NEW_PASSWORD), false);
    assert.equal(everything.includes(VAULT_TOKEN), false);
  });
});

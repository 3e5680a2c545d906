/**
 * Who may make the tool router act: only a caller holding a capability the
 * orchestrator signed for exactly that call. An adversarial table against a
 * real router (sandbox processes running the real kubectl and helm against the
 * local cluster, through wrappers that record every argv), a real event store
 * (NATS) and the real recorder: every refused request is answered 401/403,
 * spawns nothing, changes nothing in the cluster, appends nothing, and leaves
 * one log line naming the caller's address and none of its ids or input.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../lib/config/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createEvidenceStore } from "../../lib/evidence/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import {
  type CapabilityGrant,
  createCapabilityMinter,
  createCapabilityVerifier,
  findExecutable,
  generateCapabilityKeys,
  loadCatalog,
} from "../../lib/tools/index.ts";
import {
  clusterToolPath,
  createTestDeployment,
  createTestEventStore,
  createTestNamespace,
  kubeGet,
  recordedArgv,
  recordingBin,
  type TestEventStore,
  type TestNamespace,
  testCluster,
} from "../../test/support/index.ts";
import { createToolRouterTransport, type ToolRouterTransport } from "./http.ts";
import { createToolCallRecorder } from "./recorder.ts";
import { createToolRouter } from "./router.ts";
import { createSandboxProcessRunner } from "./spawn.ts";

// biome-ignore lint/suspicious/noExplicitAny: RPC answers are JSON read field by field in assertions
type Json = any;

/**
 * The request the attacker sent (issue 14, defect 1), word for word but for the namespace: it aims at
 * this test's own, since the kubectl behind the router is real and a regression would scale for real.
 */
const scaleToZero = (namespace: string) =>
  `{"action_id":"kubectl.scale","input":{"kind":"deployment","name":"checkout","namespace":"${namespace}","replicas":0}}`;

describe("tool router capabilities: nothing runs without one (real sandbox, kubectl, helm, NATS, recorder)", () => {
  let dir: string;
  let argvLog: string;
  let events: TestEventStore;
  let store: EventStore;
  let transport: ToolRouterTransport;
  let base: string;
  let ns: TestNamespace;
  let SCALE_TO_ZERO: string;
  let scaleInput: Record<string, unknown>;
  let target: string;
  const logs = new PassThrough();
  let logText = "";
  logs.on("data", (chunk: Buffer) => {
    logText += chunk.toString("utf8");
  });
  const keys = generateCapabilityKeys();
  const minter = createCapabilityMinter({ signingKey: keys.signingKey });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-capability-"));
    argvLog = join(dir, "argv.log");
    ns = await createTestNamespace("wh-cap");
    target = ns.name;
    SCALE_TO_ZERO = scaleToZero(target);
    scaleInput = { kind: "deployment", name: "checkout", namespace: target, replicas: 0 };
    await createTestDeployment(target, "checkout", { replicas: 2 });
    // The real kubectl and helm behind wrappers that record each argv, so a spawn would show.
    const toolPath = clusterToolPath(await recordingBin(dir, argvLog));
    const env = {
      PATH: toolPath,
      HOME: dir,
      KUBECONFIG: testCluster.kubeconfig,
      WHEELHOUSE_TOOLS__ENV_ALLOW: "[PATH, HOME, KUBECONFIG]",
    };
    const logger = createLogger({ service: "tool-router", level: "info", format: "json", destination: logs });
    events = await createTestEventStore("cap", { logger });
    store = events.store;
    const evidence = createEvidenceStore(
      parseConfig({ storage: { evidence: { kind: "local", path: join(dir, "evidence") } } }).storage.evidence,
    );
    const router = createToolRouter({
      catalog: loadCatalog(),
      runInSandbox: createSandboxProcessRunner({ env }),
      isInstalled: async (binary) => (await findExecutable(binary, toolPath)) !== null,
      ...createToolCallRecorder({ store, evidence, logger }),
    });
    transport = createToolRouterTransport({
      router,
      logger,
      capabilities: createCapabilityVerifier({ verifyKey: keys.verifyKey }),
    });
    base = await transport.start({ host: "127.0.0.1", port: 0 });
  });

  after(async () => {
    await transport.stop();
    await events.teardown();
    await ns.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  /** Every argv kubectl or helm was started with so far. */
  const spawned = (): string[][] => recordedArgv(argvLog);
  /** The Deployment every call aims at, as the cluster has it. */
  const live = async () => (await kubeGet("deployment/checkout", `--namespace=${target}`))?.metadata.resourceVersion;
  /** Messages in all of this test's streams (events, output, dead letters). */
  const stored = async (): Promise<number> => {
    const jsm = await store.manager();
    let n = 0;
    for (const name of Object.values(store.streams)) n += (await jsm.streams.info(name)).state.messages;
    return n;
  };

  async function post(
    method: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; type: string; body: Json; text: string }> {
    const response = await fetch(`${base}/rpc/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    const text = await response.text();
    let parsed: Json = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: response.status, type: response.headers.get("content-type") ?? "", body: parsed, text };
  }

  const grantFor = (over: Partial<CapabilityGrant> = {}): CapabilityGrant => ({
    purpose: "execute",
    execution_id: "ex-cap-1",
    step_id: "s1",
    action_id: "kubectl.scale",
    input: { kind: "deployment", name: "checkout", namespace: target, replicas: 4 },
    tool_call_id: "ex-cap-1-s1",
    dry_run: false,
    plan_id: "plan-cap-1",
    plan_revision: 1,
    plan_digest: "0".repeat(64),
    ...over,
  });
  /** The ExecuteTool body a grant covers. */
  const bodyFor = (g: CapabilityGrant) =>
    JSON.stringify({
      execution_id: g.execution_id,
      step_id: g.step_id,
      action_id: g.action_id,
      input: g.input,
      ...(g.tool_call_id ? { tool_call_id: g.tool_call_id } : {}),
      ...(g.dry_run ? { dry_run: true } : {}),
    });
  const cap = async (g: CapabilityGrant, ttlMs = 60_000) => ({
    "wheelhouse-capability": await minter.mint(g, { ttlMs }),
  });

  it("runs a call its capability covers (the wrappers record what runs, the cluster changes, the events are stored)", async () => {
    const g = grantFor();
    const before = { spawned: spawned().length, stored: await stored() };
    const r = await post("ExecuteTool", bodyFor(g), await cap(g));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, "succeeded");
    assert.equal(spawned().length, before.spawned + 1);
    assert.equal(spawned().at(-1)?.[1], "scale");
    assert.equal((await kubeGet("deployment/checkout", `--namespace=${target}`))?.spec.replicas, 4);
    assert.ok((await stored()) > before.stored, "tool_call.* and evidence were appended");
  });

  it("refuses every call without a valid capability for it: 401/403, no spawn, nothing appended, no echo", async () => {
    const other = createCapabilityMinter({ signingKey: generateCapabilityKeys().signingKey });
    const g = grantFor();
    const restart = grantFor({
      action_id: "kubectl.rollout_restart",
      input: { kind: "deployment", name: "checkout", namespace: target },
    });
    const rollback = grantFor({
      action_id: "helm.rollback",
      input: { release: "checkout", namespace: target, revision: 0 },
    });
    const used = await cap(g);
    // Spend it once (that call runs), so the row below is a replay.
    assert.equal((await post("ExecuteTool", bodyFor(g), used)).status, 200);
    // Minted two minutes ago for one minute: expired well beyond the router's clock tolerance.
    const past = createCapabilityMinter({ signingKey: keys.signingKey, now: () => new Date(Date.now() - 120_000) });
    const expired = { "wheelhouse-capability": await past.mint(g, { ttlMs: 60_000 }) };

    const table: { name: string; rpc: string; body: string; headers?: Record<string, string>; status: number }[] = [
      {
        name: "the exact request from the issue, no credentials",
        rpc: "ExecuteTool",
        body: SCALE_TO_ZERO,
        status: 401,
      },
      {
        name: "scale to zero with caller-chosen execution and step ids",
        rpc: "ExecuteTool",
        body: JSON.stringify({
          action_id: "kubectl.scale",
          input: scaleInput,
          execution_id: "attacker-exec",
          step_id: "attacker-step",
          tool_call_id: "attacker-call",
        }),
        status: 401,
      },
      {
        name: "rollout_restart, no credentials",
        rpc: "ExecuteTool",
        body: JSON.stringify({
          action_id: "kubectl.rollout_restart",
          input: { kind: "deployment", name: "checkout", namespace: target },
          execution_id: "attacker-exec",
          step_id: "attacker-step",
        }),
        status: 401,
      },
      {
        name: "helm.rollback, no credentials",
        rpc: "ExecuteTool",
        body: JSON.stringify({
          action_id: "helm.rollback",
          input: { release: "checkout", namespace: target, revision: 0 },
          execution_id: "attacker-exec",
          step_id: "attacker-step",
        }),
        status: 401,
      },
      {
        name: "a router bearer token is no capability",
        rpc: "ExecuteTool",
        body: SCALE_TO_ZERO,
        headers: { authorization: "Bearer anything" },
        status: 401,
      },
      {
        name: "a made-up capability",
        rpc: "ExecuteTool",
        body: SCALE_TO_ZERO,
        headers: { "wheelhouse-capability": "eyJhbGciOiJub25lIn0.eyJwdXJwb3NlIjoiZXhlY3V0ZSJ9." },
        status: 403,
      },
      { name: "an expired capability", rpc: "ExecuteTool", body: bodyFor(g), headers: expired, status: 403 },
      { name: "a capability already used", rpc: "ExecuteTool", body: bodyFor(g), headers: used, status: 403 },
      {
        name: "signed with another key",
        rpc: "ExecuteTool",
        body: bodyFor(restart),
        headers: { "wheelhouse-capability": await other.mint(restart, { ttlMs: 60_000 }) },
        status: 403,
      },
      {
        name: "the input tampered with (scale to 0 on a capability for 4)",
        rpc: "ExecuteTool",
        body: bodyFor({ ...g, input: { ...g.input, replicas: 0 } }),
        headers: await cap(g),
        status: 403,
      },
      {
        name: "a capability for another step",
        rpc: "ExecuteTool",
        body: bodyFor({ ...g, step_id: "s2" }),
        headers: await cap(g),
        status: 403,
      },
      {
        name: "a capability for another action (scale → rollout_restart)",
        rpc: "ExecuteTool",
        body: bodyFor({ ...restart, input: restart.input }),
        headers: await cap({ ...restart, action_id: "kubectl.scale" }),
        status: 403,
      },
      {
        name: "a capability for another execution (helm.rollback)",
        rpc: "ExecuteTool",
        body: bodyFor({ ...rollback, execution_id: "attacker-exec" }),
        headers: await cap(rollback),
        status: 403,
      },
      {
        name: "a dry-run capability used for the write",
        rpc: "ExecuteTool",
        body: bodyFor(g),
        headers: await cap({ ...g, dry_run: true }),
        status: 403,
      },
      {
        name: "purpose read (GetResource) used to execute",
        rpc: "ExecuteTool",
        body: bodyFor(g),
        headers: await cap({ ...g, purpose: "read" }),
        status: 403,
      },
      {
        name: "purpose execute used for GetResource",
        rpc: "GetResource",
        body: JSON.stringify({ action_id: g.action_id, input: g.input, execution_id: g.execution_id, step_id: "s1" }),
        headers: await cap(g),
        status: 403,
      },
      {
        name: "GetResource, no credentials",
        rpc: "GetResource",
        body: JSON.stringify({ action_id: "kubectl.scale", input: scaleInput }),
        status: 401,
      },
      {
        name: "StreamToolLogs, no credentials",
        rpc: "StreamToolLogs",
        body: JSON.stringify({ tool_call_id: "ex-cap-1-s1", wait_ms: 0 }),
        status: 401,
      },
      {
        name: "StreamToolLogs for another call's log",
        rpc: "StreamToolLogs",
        body: JSON.stringify({ tool_call_id: "ex-cap-1-s1", wait_ms: 0 }),
        headers: await cap({ ...g, purpose: "logs", tool_call_id: "ex-cap-1-s2" }),
        status: 403,
      },
      {
        name: "not even JSON, no credentials: refused before the body is read",
        rpc: "ExecuteTool",
        body: "{not json",
        status: 401,
      },
      {
        name: "a malformed body on a forged capability: refused before the body is read",
        rpc: "ExecuteTool",
        body: "{not json",
        headers: { "wheelhouse-capability": "x.y.z" },
        status: 403,
      },
    ];

    const before = { spawned: spawned().length, stored: await stored(), live: await live() };
    const logStart = logText.length;
    for (const row of table) {
      const r = await post(row.rpc, row.body, row.headers);
      assert.equal(r.status, row.status, `${row.name}: ${r.text}`);
      assert.match(r.type, /^application\/problem\+json/, row.name);
      assert.equal(r.body.code, row.status === 401 ? "unauthenticated" : "forbidden", row.name);
      assert.equal(r.body.field, "wheelhouse-capability", row.name);
      assert.ok(r.body.fix, `${row.name}: the answer says how to fix it`);
      for (const echo of ["attacker", target, "checkout"]) {
        assert.equal(r.text.includes(echo), false, `${row.name}: the answer does not echo ${echo}`);
      }
    }
    assert.deepEqual(spawned().slice(before.spawned), [], "no CLI was spawned for any refused call");
    assert.equal(await live(), before.live, "the Deployment in the cluster was not written");
    assert.equal(await stored(), before.stored, "nothing was appended to any stream");

    const lines = logText
      .slice(logStart)
      .split("\n")
      .filter((l) => l.includes("refused a call"))
      .map((l) => JSON.parse(l) as { remote: string; msg: string });
    assert.equal(lines.length, table.length, "one log line per refusal");
    for (const line of lines) {
      assert.match(line.remote, /127\.0\.0\.1/, "the line names the caller's address");
      for (const echo of ["attacker", target, "checkout"]) {
        assert.equal(JSON.stringify(line).includes(echo), false, `the log line does not echo ${echo}`);
      }
    }
  });

  it("a read capability lets GetResource read, and a logs capability the call's log", async () => {
    const read = grantFor({ purpose: "read", tool_call_id: undefined });
    const r = await post(
      "GetResource",
      JSON.stringify({ action_id: read.action_id, input: read.input, execution_id: read.execution_id, step_id: "s1" }),
      await cap(read),
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.read.action_id, "kubectl.get");
    const logsOf = await post(
      "StreamToolLogs",
      JSON.stringify({ tool_call_id: "ex-cap-1-s1", wait_ms: 0 }),
      await cap(grantFor({ purpose: "logs" })),
    );
    assert.equal(logsOf.status, 200, logsOf.text);
    assert.match(logsOf.text, /"type":"end"/);
  });
});

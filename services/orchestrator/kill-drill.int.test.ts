/**
 * Kill drill: the process that runs executions (the embedded profile, where the Temporal worker and
 * the tool router share one process, started as `npm start` starts it, configured through the
 * environment) is SIGKILLed while a write's CLI runs. The CLI lives on in its own process group and
 * makes its change; nobody records its end. A new process takes the execution over: the retried
 * tool call finds `tool_call.started` without `tool_call.completed`, waits out the call's deadline,
 * reads the Deployment through the new router, sees the change and records it, instead of running
 * kubectl a second time. The CLI ran exactly once and the execution finished.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { createEventStore, type EventStore } from "../../lib/eventstore/index.ts";
import {
  connectTestNats,
  createTestDeployment,
  createTestNamespace,
  deleteStreams,
  dropSchemas,
  freePort,
  kubeGet,
  natsEnv,
  recordedArgv,
  testCluster,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";
import { executionRequested, seededPlan } from "../../test/support/orchestrator.ts";

const ROOT = join(import.meta.dirname, "..", "..");
/** The tool timeout the drill's processes run with: the retried call waits until it (plus 30 s) has passed. */
const TOOL_TIMEOUT_MS = 10_000;

describe("kill drill: SIGKILL of the execution process during a tool call", { timeout: 300_000 }, () => {
  const prefix = uniqueName("xdrill");
  const schema = uniqueName("xdrill");
  let dir: string;
  let nc: NatsConnection;
  let store: EventStore;
  let namespace: { name: string; teardown(): Promise<void> };
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "wh-exec-drill-"));
    nc = await connectTestNats();
    store = createEventStore({ nc, prefix });
    namespace = await createTestNamespace("wh-xdrill");
    await createTestDeployment(namespace.name, "checkout", { replicas: 2 });
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await deleteStreams(nc, prefix);
    await nc.close();
    await dropSchemas(schema);
    await namespace.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A kubectl that records its argv; a `scale` waits for the go file before it runs the real kubectl
   * (so the process can be killed while it runs) and leaves a done file when the change is made,
   * before it writes any output: the orphaned sandbox process dies on its first write to the dead
   * router's pipe and takes the tool's process group with it.
   */
  function drillKubectl(paths: { argvLog: string; go: string; done: string }): string {
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    const file = join(bin, "kubectl");
    writeFileSync(
      file,
      [
        "#!/usr/bin/env bash",
        `{ printf '%s\\0' kubectl "$@"; printf '\\n'; } >>${JSON.stringify(paths.argvLog)}`,
        'if [ "$1" = scale ]; then',
        `  while [ ! -e ${JSON.stringify(paths.go)} ]; do sleep 0.05; done`,
        `  ${JSON.stringify(testCluster.kubectl)} "$@" >${JSON.stringify(`${paths.done}.out`)} 2>&1; rc=$?`,
        `  echo "$rc" >${JSON.stringify(paths.done)}`,
        `  cat ${JSON.stringify(`${paths.done}.out`)}`,
        "  exit $rc",
        "fi",
        `exec ${JSON.stringify(testCluster.kubectl)} "$@"`,
        "",
      ].join("\n"),
    );
    chmodSync(file, 0o755);
    return bin;
  }

  /** The environment both processes share: same prefix, schema, task queue and ports, as one deployment. */
  async function drillEnv(bin: string): Promise<NodeJS.ProcessEnv> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: [bin, join(ROOT, "node_modules", ".bin"), testCluster.bin, process.env.PATH].join(":"),
      KUBECONFIG: testCluster.kubeconfig,
      ...natsEnv("embedded"),
      WHEELHOUSE_NATS__PREFIX: prefix,
      WHEELHOUSE_DATA_DIR: join(dir, "data"),
      WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
      WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema,
      WHEELHOUSE_STORAGE__EVIDENCE__KIND: "local",
      WHEELHOUSE_STORAGE__EVIDENCE__PATH: join(dir, "evidence"),
      WHEELHOUSE_ORCHESTRATOR__TEMPORAL_ADDRESS: testEnv.temporalAddress,
      WHEELHOUSE_ORCHESTRATOR__TASK_QUEUE: uniqueName("xdrill"),
      WHEELHOUSE_TOOLS__DEFAULT_TIMEOUT_MS: String(TOOL_TIMEOUT_MS),
      WHEELHOUSE_GATEWAY__PORT: String(await freePort()),
      WHEELHOUSE_TOOLS__ROUTER_PORT: String(await freePort()),
      WHEELHOUSE_LOG__LEVEL: "warn",
      WHEELHOUSE_LOG__FORMAT: "json",
    };
    env.WHEELHOUSE_GATEWAY__AUTH__ISSUER = `http://127.0.0.1:${env.WHEELHOUSE_GATEWAY__PORT}/dev-issuer`;
    delete env.WHEELHOUSE_CONFIG;
    return env;
  }

  async function startProcess(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; log: () => string }> {
    const child = spawn(process.execPath, ["--import", "tsx", "services/wheelhouse/main.ts"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let log = "";
    child.stdout?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    await waitFor(
      "the embedded process to run",
      () => {
        if (child.exitCode !== null) throw new Error(`it exited ${child.exitCode}: ${log.slice(-4000)}`);
        return log.includes("Wheelhouse is running");
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    return { child, log: () => log };
  }

  const callOf = (events: readonly AnyRecordedEvent[], type: string, toolCallId: string) =>
    events.filter((e) => e.type === type && (e.payload as { tool_call_id?: string }).tool_call_id === toolCallId);

  it("the CLI runs exactly once and the execution finishes on a new process", async () => {
    const paths = { argvLog: join(dir, "argv.log"), go: join(dir, "go"), done: join(dir, "done") };
    const env = await drillEnv(drillKubectl(paths));
    const first = await startProcess(env);

    const deployment = { kind: "deployment", name: "checkout", namespace: namespace.name };
    const plan = seededPlan({
      steps: [
        {
          step_id: "s1",
          action_id: "kubectl.scale",
          input: { ...deployment, replicas: 4 },
          target: { environment: "staging", service: "checkout", namespace: namespace.name },
          rationale: "more capacity for the sale",
          rollback: { action_id: "kubectl.scale", input: { ...deployment, replicas: 2 } },
        },
      ],
    });
    await store.append(plan.events);
    const { executionId, event } = executionRequested(plan.planId);
    await store.append([event]);
    const callId = `${executionId}-s1`;

    // The write's CLI is running (waiting for the go file) when the process dies.
    await waitFor(
      "the write's tool_call.started",
      async () => callOf(await store.readAggregate("execution", executionId), "tool_call.started", callId).length > 0,
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    const exited = new Promise((resolve) => first.child.once("exit", resolve));
    first.child.kill("SIGKILL");
    await exited;
    // The orphaned CLI goes on and makes its change; nobody is left to record its end.
    writeFileSync(paths.go, "");
    await waitFor("the orphaned kubectl scale to finish", () => existsSync(paths.done), { timeoutMs: 30_000 });
    assert.equal(
      (await kubeGet<{ spec: { replicas: number } }>("deployment/checkout", `--namespace=${namespace.name}`))?.spec
        .replicas,
      4,
      "the change was made by the first process's CLI",
    );
    assert.deepEqual(
      callOf(await store.readAggregate("execution", executionId), "tool_call.completed", callId),
      [],
      "its end was never recorded",
    );

    const second = await startProcess(env);
    const events = await waitFor(
      `execution ${executionId} to finish on the new process`,
      async () => {
        const all = await store.readAggregate("execution", executionId);
        return all.some((e) => e.type === "execution.succeeded" || e.type === "execution.failed") ? all : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 250 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- the new process's output ---\n${second.log().slice(-4000)}`);
    });
    second.child.kill("SIGTERM");

    assert.equal(events.at(-1)?.type, "execution.succeeded", JSON.stringify(events.at(-1)?.payload));
    assert.equal(
      recordedArgv(paths.argvLog).filter((a) => a[1] === "scale").length,
      1,
      "kubectl scale ran exactly once",
    );
    const completed = callOf(events, "tool_call.completed", callId);
    assert.equal(completed.length, 1);
    const end = completed[0];
    assert.ok(end?.type === "tool_call.completed");
    assert.equal(end.payload.status, "succeeded");
    assert.match(end.payload.settled_by_read?.detail ?? "", /is 4; the call sets 4/);
    // Not before the call's deadline: the router might still have been running it until then.
    const startedAt = Date.parse(callOf(events, "tool_call.started", callId)[0]?.occurred_at ?? "");
    assert.ok(Date.parse(end.occurred_at) - startedAt >= TOOL_TIMEOUT_MS + 30_000, "settled only after the deadline");
    assert.equal(events.filter((e) => e.type === "execution.started").length, 1, "one workflow run, taken over");
  });
});

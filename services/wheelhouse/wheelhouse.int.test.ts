/**
 * The embedded process (`services/wheelhouse/main.ts`) as a child, on the shared stack with its own
 * stream prefix, schema, task queue, data directory and ports: a start-up failure (a port taken)
 * prints one line naming the port and the fix, stops what had started, lets go of its connections
 * and exits 1 within seconds; SIGTERM during start-up ends it within the drain deadline.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  freePort,
  holdPort,
  natsEnv,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";

const root = new URL("../../", import.meta.url).pathname;
const DRAIN_MS = 15_000;

interface Embedded {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; at: number }>;
}

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const cleanup of cleanups) await cleanup();
});

async function startEmbedded(ports: { gateway: number; router: number }): Promise<Embedded> {
  const schema = uniqueName("wh_embedded");
  const dataDir = mkdtempSync(join(tmpdir(), "wh-embedded-"));
  const prefix = uniqueName("emb");
  cleanups.push(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await dropSchemas(schema);
    const nc = await connectTestNats();
    await deleteStreams(nc, prefix);
    await nc.close();
  });
  const child = spawn(process.execPath, ["--import", "tsx", "services/wheelhouse/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      ...natsEnv(),
      WHEELHOUSE_DATA_DIR: dataDir,
      WHEELHOUSE_NATS__PREFIX: prefix,
      WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
      WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema,
      WHEELHOUSE_STORAGE__EVIDENCE__KIND: "local",
      WHEELHOUSE_STORAGE__EVIDENCE__PATH: join(dataDir, "evidence"),
      WHEELHOUSE_ORCHESTRATOR__TEMPORAL_ADDRESS: testEnv.temporalAddress,
      WHEELHOUSE_ORCHESTRATOR__TASK_QUEUE: uniqueName("embedded"),
      WHEELHOUSE_GATEWAY__PORT: String(ports.gateway),
      WHEELHOUSE_GATEWAY__AUTH__ISSUER: `http://127.0.0.1:${ports.gateway}/dev-issuer`,
      WHEELHOUSE_TOOLS__ROUTER_PORT: String(ports.router),
      WHEELHOUSE_POLICY__WATCH: "false",
      WHEELHOUSE_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
      WHEELHOUSE_LOG__FORMAT: "json",
      WHEELHOUSE_LOG__LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once("exit", (code) => resolve({ code, at: Date.now() })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

const run = promisify(execFile);

/** Local ports of `pid`'s established TCP connections to `port` on this machine (`ss`). */
async function clientPorts(pid: number, port: number): Promise<number[]> {
  const { stdout } = await run("ss", ["-Htnp", "state", "established", `( dport = :${port} )`]);
  return stdout
    .split("\n")
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => Number(/:(\d+)\s+\S+:\d+\s/.exec(line)?.[1]));
}

/** Of these client ports, the ones Postgres still has a session for. */
async function postgresSessions(ports: readonly number[]): Promise<number[]> {
  const admin = new pg.Client({ connectionString: testEnv.pgUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ client_port: number }>(
      "SELECT client_port FROM pg_stat_activity WHERE client_port = ANY($1::int[])",
      [ports],
    );
    return rows.map((r) => r.client_port);
  } finally {
    await admin.end();
  }
}

/** Of these client ports, the ones nats-server still has a connection from (its monitoring endpoint). */
async function natsConnections(ports: readonly number[]): Promise<number[]> {
  const monitor = `http://127.0.0.1:${process.env.WH_NATS_MONITOR_PORT ?? "8322"}/connz?limit=100000`;
  const connz = (await (await fetch(monitor)).json()) as { connections: { port: number }[] };
  return connz.connections.map((c) => c.port).filter((p) => ports.includes(p));
}

/** Watches the child's connections to Postgres and NATS until it exits; what it held, by port. */
function watchConnections(child: ChildProcess): Promise<{ postgres: Set<number>; nats: Set<number> }> {
  const held = { postgres: new Set<number>(), nats: new Set<number>() };
  const pgPort = Number(new URL(testEnv.pgUrl).port || 5432);
  const natsPort = Number(new URL(testEnv.natsUrl).port || 4222);
  return (async () => {
    while (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      for (const p of await clientPorts(child.pid, pgPort)) held.postgres.add(p);
      for (const p of await clientPorts(child.pid, natsPort)) held.nats.add(p);
      // A sampling interval, not a wait: the loop ends when the child exits.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return held;
  })();
}

/** After the exit, neither server keeps a connection the child had. */
async function assertConnectionsClosed(held: { postgres: Set<number>; nats: Set<number> }): Promise<void> {
  assert.ok(held.postgres.size > 0, "the process was never seen connected to Postgres");
  assert.ok(held.nats.size > 0, "the process was never seen connected to NATS");
  await waitFor(
    "Postgres to end the process's sessions",
    async () => (await postgresSessions([...held.postgres])).length === 0,
    {
      timeoutMs: 5_000,
      intervalMs: 100,
    },
  );
  await waitFor(
    "NATS to drop the process's connections",
    async () => (await natsConnections([...held.nats])).length === 0,
    {
      timeoutMs: 5_000,
      intervalMs: 100,
    },
  );
}

const stoppedComponents = (stdout: string) =>
  stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { msg?: string; component?: string })
    .filter((entry) => entry.msg === "stopped")
    .map((entry) => entry.component);

describe("embedded process: a failed start exits", () => {
  it("a taken gateway port: one line with the port and the fix, what started is stopped, exit 1 within seconds", async () => {
    const held = await holdPort();
    cleanups.push(() => new Promise<void>((resolve) => held.server.close(() => resolve())));
    const embedded = await startEmbedded({ gateway: held.port, router: await freePort() });
    const connections = watchConnections(embedded.child);
    await waitFor("the start-up failure on stderr", () => embedded.stderr().includes("\n"), {
      timeoutMs: 180_000,
      intervalMs: 100,
    });
    const printed = Date.now();
    const { code, at } = await embedded.exited;
    assert.equal(code, 1);
    assert.ok(at - printed < 12_000, `exited ${at - printed} ms after printing the failure`);

    const lines = embedded.stderr().trimEnd().split("\n");
    assert.equal(lines.length, 1, embedded.stderr());
    assert.match(
      lines[0] ?? "",
      new RegExp(`^wheelhouse: gateway cannot listen on 127\\.0\\.0\\.1:${held.port} \\(gateway\\.port\\)`),
    );
    assert.match(lines[0] ?? "", /in use/);
    assert.match(lines[0] ?? "", /fix: .*WHEELHOUSE_GATEWAY__PORT/);
    // Everything that had started was stopped, last started first.
    assert.deepEqual(stoppedComponents(embedded.stdout()), [
      "approvals",
      "orchestrator",
      "tool-router",
      "planner",
      "policy",
      "context",
      "projector",
    ]);
    await assertConnectionsClosed(await connections);
  });

  it("a taken tool router port stops the four services before it and names tools.router_port", async () => {
    const held = await holdPort();
    cleanups.push(() => new Promise<void>((resolve) => held.server.close(() => resolve())));
    const embedded = await startEmbedded({ gateway: await freePort(), router: held.port });
    const { code } = await embedded.exited;
    assert.equal(code, 1);
    assert.match(
      embedded.stderr(),
      new RegExp(
        `^wheelhouse: tool-router cannot listen on 127\\.0\\.0\\.1:${held.port} \\(tools\\.router_port\\).*fix: .*WHEELHOUSE_TOOLS__ROUTER_PORT`,
      ),
    );
    assert.equal(embedded.stderr().trimEnd().split("\n").length, 1);
    assert.deepEqual(stoppedComponents(embedded.stdout()), ["planner", "policy", "context", "projector"]);
  });

  it("SIGTERM during start-up ends the process within the drain deadline", async () => {
    const embedded = await startEmbedded({ gateway: await freePort(), router: await freePort() });
    const connections = watchConnections(embedded.child);
    await waitFor("the policy service to start", () => embedded.stdout().includes("deciding proposed plans"), {
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const sent = Date.now();
    embedded.child.kill("SIGTERM");
    const { code, at } = await embedded.exited;
    assert.ok(at - sent < DRAIN_MS + 2_000, `exited ${at - sent} ms after SIGTERM`);
    assert.ok(code === 0, `exit code ${code}: ${embedded.stderr()}`);
    assert.doesNotMatch(embedded.stdout(), /Wheelhouse is running/);
    await assertConnectionsClosed(await connections);
  });
});

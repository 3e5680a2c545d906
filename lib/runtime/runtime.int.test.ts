/**
 * `runServices` ends its process, always: a signal during start-up stops what started, and a
 * stop that hangs is cut off at the drain deadline. Real runtime (NATS, own stream prefix), with
 * stand-in services (`run-services.fixture.ts`) that start slowly, never start, or never stop.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { connectTestNats, deleteStreams, natsEnv, uniqueName, waitFor } from "../../test/support/index.ts";

const root = new URL("../../", import.meta.url).pathname;
const fixture = new URL("./run-services.fixture.ts", import.meta.url).pathname;
const DRAIN_MS = 2_000;

interface Child {
  readonly process: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code and when it came. */
  readonly exited: Promise<{ code: number | null; signal: string | null; at: number }>;
}

function startFixture(mode: string): Child {
  const prefix = uniqueName("rt");
  prefixes.push(prefix);
  const child = spawn(process.execPath, ["--import", "tsx", fixture], {
    cwd: root,
    env: {
      ...process.env,
      ...natsEnv(),
      WH_FIXTURE: mode,
      WHEELHOUSE_NATS__PREFIX: prefix,
      WHEELHOUSE_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
      WHEELHOUSE_LOG__LEVEL: "warn",
      WHEELHOUSE_LOG__FORMAT: "json",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  children.push(child);
  return { process: child, stdout: () => stdout, stderr: () => stderr, exited };
}

const children: ChildProcess[] = [];
const prefixes: string[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  const nc = await connectTestNats();
  await deleteStreams(nc, ...prefixes);
  await nc.close();
});

const lines = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("{"));

describe("runServices ends its process", () => {
  it("SIGTERM during start-up lets the service being started finish, stops both, exits 0", async () => {
    const child = startFixture("slow-start");
    await waitFor("the second service to be starting", () => child.stdout().includes("starting second"), {
      timeoutMs: 30_000,
    });
    child.process.kill("SIGTERM");
    const { code } = await child.exited;
    assert.equal(code, 0, child.stderr());
    assert.deepEqual(lines(child.stdout()), [
      "starting first",
      "started first",
      "starting second",
      "started second",
      "stopping second",
      "stopped second",
      "stopping first",
      "stopped first",
    ]);
  });

  it("SIGTERM while a start never finishes ends the process at the drain deadline, exit 1, naming what it waited on", async () => {
    const child = startFixture("hung-start");
    await waitFor("the second service to be starting", () => child.stdout().includes("starting second"), {
      timeoutMs: 30_000,
    });
    const sent = Date.now();
    child.process.kill("SIGTERM");
    const { code, at } = await child.exited;
    assert.equal(code, 1);
    assert.ok(at - sent >= DRAIN_MS - 100, `exited after ${at - sent} ms, before the deadline`);
    assert.ok(at - sent < DRAIN_MS + 3_000, `exited after ${at - sent} ms`);
    assert.match(child.stderr(), /fixture did not stop within 2 s \(waiting on second to start\); exiting anyway/);
    assert.doesNotMatch(child.stdout(), /^running$/m);
  });

  it("SIGTERM with a stop that never finishes ends the process at the drain deadline, exit 1", async () => {
    const child = startFixture("hung-stop");
    await waitFor("the services to run", () => child.stdout().includes("running"), { timeoutMs: 30_000 });
    const sent = Date.now();
    child.process.kill("SIGTERM");
    // A second signal (Ctrl-C twice) neither restarts the stop nor cuts the drain short.
    await waitFor("the second service to be stopping", () => child.stdout().includes("stopping second"));
    child.process.kill("SIGINT");
    const { code, at } = await child.exited;
    assert.equal(code, 1);
    assert.ok(at - sent >= DRAIN_MS - 100, `exited after ${at - sent} ms, before the deadline`);
    assert.ok(at - sent < DRAIN_MS + 3_000, `exited after ${at - sent} ms`);
    assert.match(child.stderr(), /fixture did not stop within 2 s \(waiting on second\); exiting anyway/);
    assert.equal(child.stdout().match(/stopping second/g)?.length, 1);
  });
});

/**
 * Sandbox hosts (sandbox-host.ts, sandbox-exec --serve) with real processes: calls at once on one
 * host, routed to their own call; cancel; a host killed under its calls; recycling; a host that
 * keeps dying; the router's own deadlines; the host protocol's answers to bad lines; what a killed
 * host leaves (its folder, its CLIs, one whose `started` line the router never read) and what dead
 * routers' hosts left.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { UnavailableError } from "../../lib/errors/index.ts";
import type { OutputLine, SandboxHostMessage, ToolCallOutcome } from "../../lib/tools/index.ts";
import { FIXTURE_BIN } from "../../test/support/fixture-bin.ts";
import { waitFor, withDeadline } from "../../test/support/wait.ts";
import type { RunInSandbox } from "./router.ts";
import { sandboxExecLaunch } from "./sandbox-bundle.ts";
import { createSandboxHostRunner, type SandboxHostExit, type SandboxHostRunner } from "./sandbox-host.ts";
import { processIdentity, type SweptHostDir } from "./sandbox-host-dirs.ts";
import { createSandboxProcessRunner } from "./spawn.ts";

// Not named like a host's folder (wh-sandbox-host-*), which routers' sweeps look at.
const scratch = mkdtempSync(join(tmpdir(), "wh-test-sandbox-host-"));
const bin = join(scratch, "bin");
const gates = join(scratch, "gates");
/** Where the hosts' folders go, unless a test asks for a folder of its own. */
const hostsRoot = join(scratch, "hosts");

/**
 * A vault in front of the fixture one: `gate/<name>` prints its pid and waits until the file
 * `<gates>/<name>` exists; `slow/<name>` starts a child that sleeps and waits for it (a process
 * group of two); `escape/<name>` starts a child in a session of its own (outside the CLI's process
 * group) and waits for it; anything else is the fixture vault.
 */
const VAULT = `#!/usr/bin/env bash
p="\${*: -1}"
case "$p" in
  gate/*) echo "gate \${p#gate/} pid $$"; while [ ! -e "${gates}/\${p#gate/}" ]; do sleep 0.02; done; echo "open \${p#gate/}" ;;
  slow/*) sleep 300 & echo "child $!"; wait ;;
  escape/*) setsid sleep 300 & echo "child $!"; wait ;;
  *) exec "${FIXTURE_BIN}/vault" "$@" ;;
esac
`;

const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const spec = (path: string, extra: { timeout_ms?: number } = {}) => ({
  tool_call_id: `t-${path}`,
  action_id: "vault.kv_metadata_get",
  input: { path },
  ...extra,
});

interface Watched {
  readonly lines: OutputLine[];
  started: boolean;
  readonly outcome: Promise<ToolCallOutcome>;
}

/** Starts a call and keeps its lines; the outcome is awaited (or asserted to reject) by the test. */
function watch(run: RunInSandbox, path: string, signal?: AbortSignal, extra: { timeout_ms?: number } = {}): Watched {
  const watched: { lines: OutputLine[]; started: boolean; outcome?: Promise<ToolCallOutcome> } = {
    lines: [],
    started: false,
  };
  watched.outcome = run(spec(path, extra), {
    onStarted: () => {
      watched.started = true;
    },
    onLine: (line) => watched.lines.push(line),
    ...(signal ? { signal } : {}),
  });
  // Rejections are asserted by the tests; this keeps one not yet awaited from being unhandled.
  watched.outcome.catch(() => {});
  return watched as Watched;
}

function writeVault() {
  for (const dir of [bin, gates, hostsRoot]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(bin, "vault"), VAULT);
  chmodSync(join(bin, "vault"), 0o755);
}

const open = (name: string) => writeFileSync(join(gates, name), "");

/** The number after `word` in a call's output (`pid 123`, `child 456`). */
async function numberIn(call: Watched, word: string): Promise<number> {
  const line = await waitFor(`"${word} <n>" in the call's output`, () =>
    call.lines.find((l) => new RegExp(`\\b${word} \\d+`).test(l.line)),
  );
  return Number(new RegExp(`\\b${word} (\\d+)`).exec(line.line)?.[1]);
}

/** True while the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** The folder in `root` that the router made for the host with this pid. */
function hostDirOf(root: string, host: number): string {
  const dir = readdirSync(root)
    .map((name) => join(root, name))
    .find((d) => existsSync(join(d, "host")) && readFileSync(join(d, "host"), "utf8").startsWith(`${host} `));
  assert.ok(dir, `a folder in ${root} for host ${host}`);
  return dir;
}

/** Every work dir (`wh-tool-*`) anywhere below `root`. */
const workDirsIn = (root: string) =>
  readdirSync(root, { recursive: true, encoding: "utf8" }).filter((path) => /(^|\/)wh-tool-[^/]*$/.test(path));

describe("sandbox hosts (with the fixture vault CLI)", () => {
  const runners: SandboxHostRunner[] = [];
  const hostRunner = (options: Partial<Parameters<typeof createSandboxHostRunner>[0]> = {}) => {
    const runner = createSandboxHostRunner({ launch: sandboxExecLaunch, env, tempDir: hostsRoot, ...options });
    runners.push(runner);
    return runner;
  };

  before(writeVault);
  after(async () => {
    await Promise.all(runners.map((r) => r.close()));
    rmSync(scratch, { recursive: true, force: true });
  });

  it("serves calls at once, spread over the hosts, each line and result routed to its own call", async () => {
    const runner = hostRunner({ hosts: 2, prestart: true });
    const calls = ["c1", "c2", "c3", "c4"].map((name) => watch(runner, `gate/${name}`));
    // All four are running at the same time: none can end before its gate opens.
    const pids = await Promise.all(calls.map((call) => numberIn(call, "pid")));
    const hosts = runner.hostPids();
    assert.equal(hosts.length, 2);
    const parents = pids.map(parentOf).sort();
    assert.deepEqual(parents, [hosts[0], hosts[0], hosts[1], hosts[1]].sort(), "two calls on each host");
    for (const name of ["c3", "c1", "c4", "c2"]) open(name);
    const results = await Promise.all(calls.map((call) => call.outcome));
    results.forEach((result, i) => {
      const name = `c${i + 1}`;
      assert.equal(result.tool_call_id, `t-gate/${name}`);
      assert.equal(result.exit_code, 0);
      assert.equal(result.pgid, pids[i]);
      assert.deepEqual(
        calls[i]?.lines.map((l) => [l.seq, l.line]),
        [
          [0, `gate ${name} pid ${pids[i]}`],
          [1, `open ${name}`],
        ],
      );
      assert.equal(result.stdout.text, `gate ${name} pid ${pids[i]}\nopen ${name}`);
    });
    // And a call to the fixture CLI itself, through the same hosts.
    const plain = watch(runner, "shop/db");
    assert.match((await plain.outcome).stdout.text, /current_version/);
    assert.equal(plain.started, true);
  });

  it("cancels one call: only its process group is stopped, the other call on the host goes on", async () => {
    const runner = hostRunner({ hosts: 1 });
    const canceling = new AbortController();
    const canceled = watch(runner, "slow/a", canceling.signal);
    const other = watch(runner, "gate/b");
    const child = await numberIn(canceled, "child");
    const otherPid = await numberIn(other, "pid");
    assert.equal(parentOf(otherPid), runner.hostPids()[0]);
    canceling.abort();
    const result = await withDeadline("the canceled call's result", canceled.outcome, 10_000);
    assert.equal(result.canceled, true);
    await waitFor("the canceled call's process group to be gone", () => !alive(result.pgid ?? 0) && !alive(child));
    assert.equal(alive(otherPid), true, "the other call's CLI is still running");
    open("b");
    assert.equal((await other.outcome).exit_code, 0);
  });

  it("fails the calls of a host that was killed, kills their process groups, and serves the next call on a new host", async () => {
    const exits: SandboxHostExit[] = [];
    const runner = hostRunner({ hosts: 1, onHostExit: (exit) => exits.push(exit) });
    const first = watch(runner, "slow/x");
    const second = watch(runner, "slow/y");
    const children = [await numberIn(first, "child"), await numberIn(second, "child")];
    const [host] = runner.hostPids();
    assert.ok(host);
    const clis = children.map(parentOf);
    process.kill(host, "SIGKILL");
    for (const call of [first, second]) {
      await assert.rejects(
        withDeadline("the failed call", call.outcome, 10_000),
        (error: unknown) =>
          error instanceof UnavailableError &&
          /sandbox host \(pid \d+\) running this call was killed by SIGKILL before the call ended; its CLI's process group \d+ was killed/.test(
            error.message,
          ) &&
          /retry the call/.test(error.fix ?? ""),
      );
    }
    await waitFor("the CLIs and their children to be gone", () => [...clis, ...children].every((pid) => !alive(pid)));
    assert.deepEqual(
      exits.map((e) => [e.pid, e.signal, e.expected, e.callsFailed, e.restartInMs]),
      [[host, "SIGKILL", false, 2, 0]],
    );
    const next = watch(runner, "shop/db");
    assert.equal((await next.outcome).exit_code, 0);
    assert.notEqual(runner.hostPids()[0], host, "a replacement host served it");
  });

  it("leaves no work dir, no folder and no live process of a fixture CLI whose host was killed with SIGKILL", async () => {
    const root = mkdtempSync(join(scratch, "tmp-"));
    const runner = hostRunner({ hosts: 1, tempDir: root });
    assert.equal((await watch(runner, "shop/first").outcome).exit_code, 0);
    const [host] = runner.hostPids();
    assert.ok(host);
    const dir = hostDirOf(root, host);
    assert.equal(statSync(dir).mode & 0o777, 0o700, "the host's folder is private");
    assert.deepEqual(readdirSync(dir).sort(), ["host", "router"], "a finished call leaves nothing in it");
    // A CLI with a child in a session of its own: killing the CLI's process group does not reach that one.
    const call = watch(runner, "escape/k");
    const child = await numberIn(call, "child");
    const cli = parentOf(child);
    assert.equal(workDirsIn(dir).length, 1, "the call's work dir is in the host's folder");
    assert.ok(readdirSync(dir).includes(`cli-${cli}.json`), "the CLI is recorded there");
    process.kill(host, "SIGKILL");
    await assert.rejects(withDeadline("the failed call", call.outcome, 10_000), UnavailableError);
    await waitFor(
      "the CLI, its escaped child and the host's folder to be gone",
      () => [cli, child].every((pid) => !alive(pid)) && !existsSync(dir),
    );
    assert.deepEqual(workDirsIn(root), [], "no work dir is left");
    assert.equal((await watch(runner, "shop/after").outcome).exit_code, 0, "a replacement host serves");
  });

  it("kills, and reports as started, a fixture CLI whose started line the router had not read when its host died", async () => {
    const root = mkdtempSync(join(scratch, "tmp-"));
    // The test hook: the host records each CLI but keeps its `started` line back.
    const withholding = async () => {
      const launch = await sandboxExecLaunch();
      return { ...launch, args: [...launch.args, "--test-withhold-started"] };
    };
    const runner = hostRunner({ hosts: 1, tempDir: root, launch: withholding });
    const call = watch(runner, "slow/race");
    const child = await numberIn(call, "child");
    const cli = parentOf(child);
    assert.equal(call.started, false, "the router has not heard that the CLI started");
    const [host] = runner.hostPids();
    assert.ok(host);
    process.kill(host, "SIGKILL");
    await assert.rejects(
      withDeadline("the failed call", call.outcome, 10_000),
      (error: unknown) =>
        error instanceof UnavailableError &&
        error.message.includes(
          `was killed by SIGKILL before the call ended; its CLI's process group ${cli} was killed`,
        ),
    );
    assert.equal(call.started, true, "reported as started (from the host's record) before it failed");
    await waitFor("the CLI and its child to be gone", () => [cli, child].every((pid) => !alive(pid)));
    await waitFor("the dead host's folder to be gone", () => workDirsIn(root).length === 0 && root);
    assert.throws(() => hostDirOf(root, host));
  });

  it("removes a dead router's host folders when the pool starts, killing only what still works in them", async () => {
    const root = mkdtempSync(join(scratch, "tmp-"));
    const gone = spawnSync("true").pid;
    const stale = join(realpathSync(root), "wh-sandbox-host-stale");
    mkdirSync(join(stale, "wh-tool-x"), { recursive: true });
    writeFileSync(join(stale, "router"), `${gone} 1`);
    writeFileSync(join(stale, "host"), `${gone} 1`);
    // Left running in its work dir by the dead host; and a recorded pid that now belongs to a stranger.
    const worker = spawn("sleep", ["300"], { cwd: join(stale, "wh-tool-x"), detached: true, stdio: "ignore" });
    const stranger = spawn("sleep", ["300"], { cwd: scratch, detached: true, stdio: "ignore" });
    try {
      writeFileSync(join(stale, `cli-${worker.pid}.json`), "{}");
      writeFileSync(join(stale, `cli-${stranger.pid}.json`), "{}");
      // Another router's (this process stands in for it): alive, so not touched.
      const live = join(root, "wh-sandbox-host-live");
      mkdirSync(live);
      writeFileSync(join(live, "router"), processIdentity(process.pid));
      const swept: SweptHostDir[] = [];
      hostRunner({ hosts: 1, tempDir: root, prestart: true, onStaleHostDir: (dir) => swept.push(dir) });
      await waitFor("the stale folder to be removed", () => swept.length > 0);
      assert.deepEqual(swept, [{ dir: stale, killedGroups: [worker.pid] }]);
      assert.equal(existsSync(stale), false);
      await waitFor("the process working in it to be gone", () => !alive(worker.pid ?? 0));
      assert.equal(alive(stranger.pid ?? 0), true, "a recorded pid that is no longer the CLI's is not killed");
      assert.equal(existsSync(live), true, "a live router's folder stays");
    } finally {
      worker.kill("SIGKILL");
      stranger.kill("SIGKILL");
    }
  });

  it("leaves no folder of an idle host when its router process exits without close()", async () => {
    const root = mkdtempSync(join(scratch, "tmp-"));
    const script = [
      `import { sandboxExecLaunch } from ${JSON.stringify(join(import.meta.dirname, "sandbox-bundle.ts"))};`,
      `import { createSandboxHostRunner } from ${JSON.stringify(join(import.meta.dirname, "sandbox-host.ts"))};`,
      `const run = createSandboxHostRunner({ launch: sandboxExecLaunch, env: process.env, hosts: 2, tempDir: ${JSON.stringify(root)} });`,
      `const result = await run(${JSON.stringify(spec("shop/db"))}, { onStarted() {}, onLine() {} });`,
      'console.log("exit", result.exit_code);',
    ].join("\n");
    const router = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env });
    let out = "";
    router.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    router.stderr.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await withDeadline(
      "the router process to exit",
      new Promise((resolve) => router.once("exit", resolve)),
      20_000,
    );
    assert.equal(code, 0, out);
    assert.match(out, /exit 0/);
    assert.deepEqual(readdirSync(root), [], "both idle hosts' folders were removed");
  });

  it("recycles a host after N calls without losing one", async () => {
    const exits: SandboxHostExit[] = [];
    const runner = hostRunner({ hosts: 1, recycleAfterCalls: 3, onHostExit: (exit) => exits.push(exit) });
    // Three calls in flight when the host reaches its count: it finishes them after its replacement took over.
    const gated = ["r1", "r2", "r3"].map((name) => watch(runner, `gate/${name}`));
    const pids = await Promise.all(gated.map((call) => numberIn(call, "pid")));
    const firstHost = parentOf(pids[0] ?? 0);
    assert.notEqual(runner.hostPids()[0], firstHost, "the replacement is the host now");
    const during = await watch(runner, "shop/during").outcome;
    assert.equal(during.exit_code, 0);
    for (const name of ["r1", "r2", "r3"]) open(name);
    for (const call of gated) assert.equal((await call.outcome).exit_code, 0);
    const more = await Promise.all(Array.from({ length: 7 }, (_, i) => watch(runner, `shop/more${i}`).outcome));
    assert.deepEqual(
      more.map((r) => [r.tool_call_id, r.exit_code]),
      Array.from({ length: 7 }, (_, i) => [`t-shop/more${i}`, 0]),
    );
    await waitFor("the recycled hosts to have exited", () => exits.length >= 3 && exits);
    for (const exit of exits) {
      assert.equal(exit.expected, true);
      assert.equal(exit.code, 0);
      assert.equal(exit.callsFailed, 0);
    }
    assert.ok(
      exits.some((exit) => exit.pid === firstHost),
      "the first host ended once its calls were done",
    );
  });

  it("restarts a host that keeps dying with a growing delay, and fails calls at once meanwhile", async () => {
    const exits: SandboxHostExit[] = [];
    const runner = createSandboxHostRunner({
      launch: async () => ({ file: "bash", args: ["-c", "echo 'broken host' >&2; exit 3"], env: {}, bundle: null }),
      env,
      hosts: 1,
      restartBackoffMs: { first: 100, max: 400 },
      onHostExit: (exit) => exits.push(exit),
    });
    runners.push(runner);
    await assert.rejects(runner(spec("shop/db"), { onStarted: () => {}, onLine: () => {} }), (error: unknown) => {
      assert.ok(error instanceof UnavailableError);
      assert.match(
        error.message,
        /exited with code 3 before the call ended; its CLI had not started\. Host stderr: broken host/,
      );
      return true;
    });
    await waitFor("five exits", () => exits.length >= 5, { timeoutMs: 10_000 });
    assert.deepEqual(
      exits.slice(0, 5).map((e) => e.restartInMs),
      [0, 100, 200, 400, 400],
    );
    // Between restarts there is no host: a call fails at once, saying why.
    await waitFor("a moment with no host", () => runner.hostPids().length === 0);
    await assert.rejects(
      runner(spec("shop/db"), { onStarted: () => {}, onLine: () => {} }),
      /no sandbox host is running: they keep exiting \(the last one exited with code 3\); the next starts in \d+ ms/,
    );
  });

  it("gives up on a call its host never answers: after its timeout and grace, or its cancel's grace", async () => {
    // A host that reads its stdin and says nothing.
    const mute = createSandboxHostRunner({
      launch: async () => ({ file: "bash", args: ["-c", "cat >/dev/null"], env: {}, bundle: null }),
      env,
      hosts: 1,
      graceMs: 200,
      cancelGraceMs: 200,
    });
    runners.push(mute);
    const started = Date.now();
    await assert.rejects(
      mute(spec("shop/db", { timeout_ms: 100 }), { onStarted: () => {}, onLine: () => {} }),
      /did not finish the call within 300 ms \(its timeout and the grace period\); its CLI had not started/,
    );
    assert.ok(Date.now() - started >= 290);
    const canceling = new AbortController();
    const canceled = mute(spec("shop/db"), { onStarted: () => {}, onLine: () => {}, signal: canceling.signal });
    canceling.abort();
    await assert.rejects(canceled, /did not end within 200 ms of its cancel; its CLI had not started/);
  });

  it("close() cancels the calls in flight, stops every host and waits for them", async () => {
    const runner = createSandboxHostRunner({ launch: sandboxExecLaunch, env, hosts: 2 });
    const busy = watch(runner, "slow/closing");
    const child = await numberIn(busy, "child");
    const hosts = runner.hostPids();
    assert.equal(hosts.length, 2);
    await withDeadline("close()", runner.close(), 15_000);
    assert.equal((await busy.outcome).canceled, true);
    assert.deepEqual(
      [...hosts, child].filter((pid) => alive(pid)),
      [],
      "no host and no CLI is left",
    );
    await assert.rejects(
      runner(spec("shop/db"), { onStarted: () => {}, onLine: () => {} }),
      /sandbox hosts are stopped/,
    );
  });

  it("is the default runner, and process_per_call still runs a call in a process of its own", async () => {
    const perCall = createSandboxProcessRunner({ env, mode: "process_per_call" });
    const result = await perCall(spec("shop/db"), { onStarted: () => {}, onLine: () => {} });
    assert.equal(result.exit_code, 0);
    await perCall.close();
    const host = createSandboxProcessRunner({ env });
    assert.equal("hostPids" in host, true, "host mode unless asked otherwise");
    assert.equal((await host(spec("shop/db"), { onStarted: () => {}, onLine: () => {} })).exit_code, 0);
    await host.close();
  });
});

describe("sandbox-exec --serve (with the fixture vault CLI)", () => {
  let host: ChildProcess;
  const messages: SandboxHostMessage[] = [];
  const send = (line: string) => host.stdin?.write(`${line}\n`);
  const answerFor = (call: string | null, type: string) =>
    waitFor(`a ${type} message for call ${call}`, () => messages.find((m) => m.call === call && m.type === type));

  before(async () => {
    writeVault();
    const launch = await sandboxExecLaunch();
    host = spawn(launch.file, [...launch.args, "--serve"], { env: { ...env, ...launch.env } });
    createInterface({ input: host.stdout as NodeJS.ReadableStream }).on("line", (line) =>
      messages.push(JSON.parse(line) as SandboxHostMessage),
    );
  });
  after(() => {
    host.kill("SIGKILL");
    rmSync(scratch, { recursive: true, force: true });
  });

  it("answers every malformed line with the protocol's error, for its call id when it can be read", async () => {
    send("not json");
    send("[1,2]");
    send('{"request":{}}');
    send('{"cancel":7}');
    send('{"call":"m1"}');
    send('{"call":"m2","request":{"tool_call_id":"t","action_id":"vault.kv_metadata_get","input":"x"}}');
    send('{"call":"m3","request":{"tool_call_id":"t","action_id":"no.such","input":{}}}');
    const nulls = await waitFor("four errors without a call id", () => {
      const found = messages.filter((m) => m.call === null);
      return found.length >= 4 && found;
    });
    assert.deepEqual(
      nulls.map((m) => (m.type === "error" ? [m.error.field, m.error.detail] : [])),
      [
        ["(line)", "the line is not valid JSON"],
        ["(line)", "the line is not a JSON object"],
        ["call", 'the line has no call id: "call" must be a non-empty string'],
        ["cancel", "cancel must name a call id (a non-empty string)"],
      ],
    );
    const m1 = await answerFor("m1", "error");
    assert.equal(m1.type === "error" && m1.error.detail, "the request needs tool_call_id, action_id and input");
    const m2 = await answerFor("m2", "error");
    assert.equal(m2.type === "error" && m2.error.field, "request.input");
    const m3 = await answerFor("m3", "error");
    assert.match(m3.type === "error" ? m3.error.detail : "", /unknown action "no\.such"/);
    // Still serving.
    send(JSON.stringify({ call: "ok", request: spec("shop/db") }));
    const ok = await answerFor("ok", "result");
    assert.equal(ok.type === "result" && ok.result.exit_code, 0);
  });

  it("refuses a call id already in flight, and finishes its calls when stdin closes", async () => {
    send(JSON.stringify({ call: "g", request: spec("gate/serve-g") }));
    await answerFor("g", "started");
    send(JSON.stringify({ call: "g", request: spec("shop/db") }));
    const dup = await answerFor("g", "error");
    assert.equal(dup.type === "error" && dup.error.detail, "call g is already in flight on this host");
    host.stdin?.end();
    const exited = new Promise<number | null>((resolve) => host.once("exit", (code) => resolve(code)));
    await waitFor("the call still running after stdin closed", () => host.exitCode === null && alive(host.pid ?? 0));
    open("serve-g");
    const result = await answerFor("g", "result");
    assert.equal(result.type === "result" && result.result.exit_code, 0);
    assert.equal(await withDeadline("the host to exit", exited, 10_000), 0);
  });

  it("refuses its test hook outside node's test runner, saying so", async () => {
    const launch = await sandboxExecLaunch();
    const outside: Record<string, string | undefined> = { ...env, ...launch.env };
    delete outside.NODE_TEST_CONTEXT;
    const refused = spawnSync(launch.file, [...launch.args, "--serve", "--test-withhold-started"], {
      env: outside,
      encoding: "utf8",
      input: "",
    });
    assert.equal(refused.status, 2);
    const said = JSON.parse(refused.stdout.trim()) as SandboxHostMessage;
    assert.equal(
      said.type === "error" && said.error.detail,
      "--test-withhold-started is a test hook and is refused outside node's test runner",
    );
  });

  it("cancels every call in flight on SIGTERM, stopping their process groups, and exits", async () => {
    const launch = await sandboxExecLaunch();
    const term = spawn(launch.file, [...launch.args, "--serve"], { env: { ...env, ...launch.env } });
    const said: SandboxHostMessage[] = [];
    createInterface({ input: term.stdout }).on("line", (line) => said.push(JSON.parse(line) as SandboxHostMessage));
    const exited = new Promise<number | null>((resolve) => term.once("exit", (code) => resolve(code)));
    term.stdin.write(`${JSON.stringify({ call: "s1", request: spec("slow/s1") })}\n`);
    term.stdin.write(`${JSON.stringify({ call: "s2", request: spec("slow/s2") })}\n`);
    const children = await waitFor("both calls' children", () => {
      const found = said.flatMap((m) =>
        m.type === "output" && /^child \d+$/.test(m.line) ? [Number(m.line.slice(6))] : [],
      );
      return found.length === 2 && found;
    });
    term.kill("SIGTERM");
    assert.equal(await withDeadline("the host to exit", exited, 10_000), 0);
    const results = said.flatMap((m) => (m.type === "result" ? [[m.call, m.result.canceled]] : []));
    assert.deepEqual(results.sort(), [
      ["s1", true],
      ["s2", true],
    ]);
    await waitFor("the calls' children to be gone", () => children.every((pid) => !alive(pid)));
  });
});

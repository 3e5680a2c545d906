/**
 * Tool calls through a small pool of sandbox hosts: long-lived `sandbox-exec --serve` processes,
 * each serving many calls at once over the host protocol (lib/tools/sandbox-protocol.ts), so that
 * a call no longer pays for starting Node and loading sandbox-exec (about 0.3 s of CPU on this
 * project's 2-core machine, more than a fast CLI costs). Each CLI still runs in its own process
 * group with a clean environment and a private 0700 work dir (lib/tools/sandbox.ts); what calls
 * share is the host process, which outlives them.
 *
 * - A call goes to the running host with the fewest calls in flight; the CLI's pid from its
 *   `started` message is kept (the CLI leads its own process group: pgid = pid).
 * - Each host works in a folder of its own that the router makes (0700, in `tempDir`, passed as
 *   `--work-root`; sandbox-host-dirs.ts): its calls' work dirs are there, and it records each CLI
 *   in it the moment it is spawned, before its `started` line.
 * - A host that exits with calls in flight: each of those calls' process groups is SIGKILLed from
 *   here, with every group recorded in its folder and, on Linux, every process working in it (so a
 *   CLI whose `started` line was never read is killed too, and reported as started first: its call
 *   has no known outcome either); the folder is removed; the call fails with an `UnavailableError`
 *   saying so. A replacement host is started at
 *   once, then with a growing delay while hosts keep dying without finishing a call (never a hot
 *   loop); while every host waits for its restart, calls fail at once with the reason.
 * - Every host that ends has its folder reaped and removed, expected or not; a router process that
 *   exits without `close()` removes its idle hosts' folders on the way out. When the pool starts
 *   and whenever a host ends, the folders of other routers' hosts whose router and host are both
 *   gone (a router that crashed) are removed, killing only processes still working in them.
 * - Abort: the host is told to cancel the call (its executor stops the process group); a call
 *   that has not ended `cancelGraceMs` later has its process group killed from here and fails.
 *   The router's own deadline (the call's timeout plus `graceMs`) is kept as well.
 * - After `recycleAfterCalls` calls a host takes no more: a new one takes its place, it finishes
 *   its calls, and its stdin is closed, which ends it.
 * - An idle host does not keep the router's process alive (its pipes are unref'd); `close()`
 *   stops every host (calls in flight are canceled) and waits for them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type ProblemDetails, UnavailableError } from "../../lib/errors/index.ts";
import {
  type ObjectStoreRef,
  parseSandboxHostMessage,
  type SandboxExecRequest,
  sandboxExecError,
  type ToolCallOutcome,
  type ToolCallSpec,
} from "../../lib/tools/index.ts";
import type { RunInSandbox } from "./router.ts";
import type { SandboxExecLaunch } from "./sandbox-bundle.ts";
import {
  createHostDir,
  processIdentity,
  readCliRecords,
  reapHostDir,
  recordHost,
  type SweptHostDir,
  sweepStaleHostDirs,
} from "./sandbox-host-dirs.ts";

export interface SandboxHostOptions {
  /** How sandbox-exec is started (`--serve` is added). */
  readonly launch: () => Promise<SandboxExecLaunch>;
  /** Environment of the hosts (they read the config and the allow-listed variables from it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly objectStore?: ObjectStoreRef | undefined;
  readonly allowFileRepos?: boolean | undefined;
  /** Extra time a call gets beyond its own timeout before the router gives up on it. */
  readonly graceMs?: number | undefined;
  readonly defaultTimeoutMs?: number | undefined;
  /** Hosts in the pool (config `tools.sandbox.hosts`). */
  readonly hosts?: number | undefined;
  /** Calls a host serves before it is replaced (config `tools.sandbox.recycle_after_calls`). */
  readonly recycleAfterCalls?: number | undefined;
  /** How long a canceled call may take to end before its process group is killed from here. */
  readonly cancelGraceMs?: number | undefined;
  /** Delay before restarting a host that keeps dying: doubles from `first` up to `max`. */
  readonly restartBackoffMs?: { readonly first: number; readonly max: number } | undefined;
  /** Start the hosts now rather than on the first call. */
  readonly prestart?: boolean | undefined;
  /** Told when a host exits (expected or not), for the router's log. */
  readonly onHostExit?: ((exit: SandboxHostExit) => void) | undefined;
  /** Where each host's own folder is made (its calls' work dirs go in it); the OS temp folder by default. */
  readonly tempDir?: string | undefined;
  /** Told when a folder left by another router's dead host was removed, for the router's log. */
  readonly onStaleHostDir?: ((swept: SweptHostDir) => void) | undefined;
}

/** A host that ended: how, and how many calls it took with it. */
export interface SandboxHostExit {
  readonly pid: number | null;
  readonly code: number | null;
  readonly signal: string | null;
  /** True when the router ended it (recycled or closed), false for a crash. */
  readonly expected: boolean;
  readonly callsFailed: number;
  /** The end of its stderr, for the log. */
  readonly stderr: string;
  /** Ms until its replacement starts; null when none is started (recycled hosts are replaced beforehand). */
  readonly restartInMs: number | null;
}

/** The runner, the pids of the running hosts (tests, benchmarks) and `close()`, which stops them and waits. */
export type SandboxHostRunner = RunInSandbox & {
  close(): Promise<void>;
  hostPids(): number[];
};

type Hooks = Parameters<RunInSandbox>[1];

interface HostCall {
  readonly id: string;
  readonly hooks: Hooks;
  /** The CLI's pid (its process group), once the host said it started. */
  pid: number | null;
  readonly timers: NodeJS.Timeout[];
  readonly settle: (outcome: { result: ToolCallOutcome } | { error: unknown }) => void;
}

interface Host {
  readonly slot: number;
  child: ChildProcess | null;
  /** Its own folder (`--work-root`), once made; removed when it has ended. */
  dir: string | null;
  readonly ready: Promise<ChildProcess | null>;
  readonly exited: Promise<void>;
  readonly calls: Map<string, HostCall>;
  /** Calls sent to it so far (for recycling). */
  sent: number;
  state: "running" | "draining" | "exited";
  stderr: string;
  /** The last error it wrote without a call id (e.g. its configuration could not be read). */
  problem: ProblemDetails | null;
}

interface Slot {
  host: Host | null;
  /** Hosts in a row that exited unexpectedly before finishing a call. */
  crashes: number;
  restart: NodeJS.Timeout | null;
  restartAt: number;
  lastExit: string | null;
}

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const STDERR_KEPT = 4096;

/**
 * The folders of this process's idle hosts. A router that exits without `close()` (idle hosts do
 * not keep it alive) removes them on its way out; its hosts then end at the end of their stdin.
 * A busy host's folder stays for a later router's sweep.
 */
const idleHostDirs = new Set<string>();
let removesIdleHostDirsAtExit = false;

function trackIdleHostDir(dir: string, idle: boolean): void {
  if (!idle) {
    idleHostDirs.delete(dir);
    return;
  }
  idleHostDirs.add(dir);
  if (removesIdleHostDirsAtExit) return;
  removesIdleHostDirsAtExit = true;
  process.once("exit", () => {
    for (const idleDir of idleHostDirs) {
      try {
        rmSync(idleDir, { recursive: true, force: true });
      } catch {
        // The process is ending; a later router's sweep removes what is left.
      }
    }
  });
}

/** The request a sandbox process gets for a call: the spec plus how to reach the artifact store. */
export function sandboxExecRequest(
  spec: ToolCallSpec,
  options: { readonly objectStore?: ObjectStoreRef | undefined; readonly allowFileRepos?: boolean | undefined },
): SandboxExecRequest {
  return {
    ...spec,
    ...(options.objectStore ? { object_store: options.objectStore } : {}),
    ...(options.allowFileRepos ? { allow_file_repos: true } : {}),
  };
}

export function createSandboxHostRunner(options: SandboxHostOptions): SandboxHostRunner {
  const poolSize = options.hosts ?? 2;
  const recycleAfter = options.recycleAfterCalls ?? 500;
  const cancelGraceMs = options.cancelGraceMs ?? 5000;
  const backoff = options.restartBackoffMs ?? { first: 250, max: 30_000 };
  const slots: Slot[] = Array.from({ length: poolSize }, () => ({
    host: null,
    crashes: 0,
    restart: null,
    restartAt: 0,
    lastExit: null,
  }));
  /** Recycled hosts finishing their calls. */
  const draining = new Set<Host>();
  let started = false;
  let closed = false;
  let sequence = 0;
  const tempDir = options.tempDir ?? tmpdir();
  const routerIdentity = processIdentity(process.pid);
  /** The folders of this pool's hosts, until they are removed (the sweep leaves them alone). */
  const ownDirs = new Set<string>();
  let sweeping: Promise<void> | null = null;
  let sweepAgain = false;

  /** Removes what other routers' dead hosts left; one sweep at a time, and one more if asked meanwhile. */
  const sweep = () => {
    if (sweeping) {
      sweepAgain = true;
      return;
    }
    sweeping = sweepStaleHostDirs(tempDir, ownDirs)
      .then((swept) => {
        for (const dir of swept) options.onStaleHostDir?.(dir);
      })
      .catch(() => {
        // A log callback that threw: the folders are gone all the same.
      })
      .finally(() => {
        sweeping = null;
        if (sweepAgain && !closed) {
          sweepAgain = false;
          sweep();
        }
      });
  };

  const startHost = (index: number): Host => {
    const slot = slots[index] as Slot;
    slot.restart = null;
    let markExited: () => void = () => {};
    const exited = new Promise<void>((resolve) => {
      markExited = resolve;
    });
    const ready = options.launch().then(
      ({ file, args, env }) => {
        if (closed) return null;
        try {
          host.dir = createHostDir(tempDir, routerIdentity);
        } catch (error) {
          host.stderr = `could not make the sandbox host's folder in ${tempDir}: ${(error as Error).message}`;
          return null;
        }
        ownDirs.add(host.dir);
        const child = spawn(file, [...args, "--serve", `--work-root=${host.dir}`], {
          cwd: REPO_ROOT,
          env: { ...options.env, ...env },
          stdio: ["pipe", "pipe", "pipe"],
        });
        if (child.pid !== undefined) recordHost(host.dir, child.pid);
        host.child = child;
        wire(host, child, markExited);
        return child;
      },
      (error: unknown) => {
        host.stderr = `could not start sandbox-exec: ${(error as Error).message}`;
        return null;
      },
    );
    const host: Host = {
      slot: index,
      child: null,
      dir: null,
      ready,
      exited,
      calls: new Map(),
      sent: 0,
      state: "running",
      stderr: "",
      problem: null,
    };
    slot.host = host;
    void ready.then((child) => {
      if (child === null) hostEnded(host, null, null, markExited);
      else setRef(host);
    });
    return host;
  };

  const wire = (host: Host, child: ChildProcess, markExited: () => void) => {
    let ended = false;
    const end = (code: number | null, signal: string | null) => {
      if (ended) return;
      ended = true;
      hostEnded(host, code, signal, markExited);
    };
    // A write after the host died fails with EPIPE; the exit below is what counts.
    child.stdin?.on("error", () => {});
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      host.stderr = (host.stderr + chunk).slice(-STDERR_KEPT);
    });
    if (child.stdout) {
      createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) =>
        onHostLine(host, line),
      );
    }
    child.once("close", (code, signal) => end(code, signal));
    child.once("error", (error) => {
      host.stderr = `${host.stderr}\n${error.message}`.slice(-STDERR_KEPT);
      // A process that never started emits no close.
      if (child.pid === undefined) end(null, null);
    });
  };

  const onHostLine = (host: Host, line: string) => {
    const message = parseSandboxHostMessage(line);
    if (message === null) return;
    if (message.call === null) {
      if (message.type === "error") host.problem = message.error;
      return;
    }
    // A call the router already gave up on (canceled past its grace, timed out) is not listened to.
    const call = host.calls.get(message.call);
    if (!call) return;
    try {
      if (message.type === "started") {
        call.pid = message.pid;
        call.hooks.onStarted({ binary: message.binary, argv: message.argv });
      } else if (message.type === "output") {
        call.hooks.onLine({ seq: message.seq, stream: message.stream, line: message.line });
      } else if (message.type === "result") {
        (slots[host.slot] as Slot).crashes = 0;
        call.settle({ result: message.result });
      } else if (message.type === "error") {
        // Re-raise the sandbox's typed error with its code, status, field and fix intact.
        call.settle({ error: sandboxExecError(message.error) });
      }
    } catch (error) {
      // A consumer that cannot take the output must not leave the tool running unobserved.
      send(host, { cancel: call.id });
      killGroup(call.pid);
      call.settle({ error });
    }
  };

  const hostEnded = (host: Host, code: number | null, signal: string | null, markExited: () => void) => {
    const expected = host.state === "draining" || closed;
    host.state = "exited";
    draining.delete(host);
    const how = signal ? `was killed by ${signal}` : code === null ? "could not start" : `exited with code ${code}`;
    const said = host.problem ? `: ${host.problem.detail}` : "";
    const stderr = host.stderr.trim();
    const inFlight = [...host.calls.values()];
    // CLIs it started whose `started` line was not read: reported as started now, as the line would have.
    const records = host.dir === null ? [] : readCliRecords(host.dir);
    for (const { pid, record } of records) {
      const call = record === null ? undefined : host.calls.get(record.call);
      if (!record || !call || call.pid !== null) continue;
      call.pid = pid;
      try {
        call.hooks.onStarted({ binary: record.binary, argv: record.argv });
      } catch {
        // The call fails just below either way.
      }
    }
    // Kills the recorded groups and what works in the folder (a CLI not yet recorded), then removes it.
    const dir = host.dir;
    if (dir !== null) trackIdleHostDir(dir, false);
    const reaped =
      dir === null
        ? Promise.resolve()
        : reapHostDir(
            dir,
            records.map((r) => r.pid),
          )
            .catch(() => {
              // Left in place: a later router's sweep removes it once this router is gone too.
            })
            .finally(() => ownDirs.delete(dir));
    for (const call of inFlight) {
      killGroup(call.pid);
      const group = call.pid === null ? "its CLI had not started" : `its CLI's process group ${call.pid} was killed`;
      call.settle({
        error: new UnavailableError(
          `the sandbox host (pid ${host.child?.pid ?? "none"}) running this call ${how}${said} before the call ended; ${group}${stderr ? `. Host stderr: ${stderr.slice(-1000)}` : ""}`,
          {
            fix: "retry the call: a replacement host is started. If hosts keep exiting, check the tool router's log for their stderr, or set tools.sandbox.mode to process_per_call",
          },
        ),
      });
    }
    const slot = slots[host.slot] as Slot;
    let restartInMs: number | null = null;
    if (!closed && slot.host === host) {
      slot.host = null;
      slot.crashes += 1;
      slot.lastExit = `${how}${said}`;
      // The first crash is replaced at once; a host that keeps dying waits longer each time.
      restartInMs = slot.crashes <= 1 ? 0 : Math.min(backoff.max, backoff.first * 2 ** (slot.crashes - 2));
      if (restartInMs === 0) startHost(host.slot);
      else {
        slot.restartAt = Date.now() + restartInMs;
        slot.restart = setTimeout(() => startHost(host.slot), restartInMs);
        slot.restart.unref();
      }
    }
    void reaped.then(markExited);
    if (!closed) sweep();
    options.onHostExit?.({
      pid: host.child?.pid ?? null,
      code,
      signal,
      expected,
      callsFailed: inFlight.length,
      stderr,
      restartInMs,
    });
  };

  const send = (host: Host, line: object) => {
    const text = `${JSON.stringify(line)}\n`;
    void host.ready.then((child) => {
      if (child?.stdin && !child.stdin.writableEnded) child.stdin.write(text);
    });
  };

  /** A host with calls in flight keeps the router's process alive; an idle one does not. */
  const setRef = (host: Host) => {
    const child = host.child;
    if (!child || host.state === "exited") return;
    const busy = host.calls.size > 0;
    if (host.dir !== null) trackIdleHostDir(host.dir, !busy);
    for (const stream of [child.stdin, child.stdout, child.stderr] as (Socket | null)[]) {
      if (busy) stream?.ref?.();
      else stream?.unref?.();
    }
    if (busy) child.ref();
    else child.unref();
  };

  /** A recycled host takes no more calls; once its calls are done its stdin is closed, which ends it. */
  const finishIfDrained = (host: Host) => {
    if (host.state === "draining" && host.calls.size === 0) {
      void host.ready.then((child) => child?.stdin?.end());
    }
  };

  const recycle = (host: Host) => {
    host.state = "draining";
    draining.add(host);
    startHost(host.slot);
    finishIfDrained(host);
  };

  const startAll = () => {
    if (started) return;
    started = true;
    sweep();
    for (let i = 0; i < slots.length; i++) startHost(i);
  };

  const pick = (): Host => {
    startAll();
    let best: Host | null = null;
    for (const slot of slots) {
      const host = slot.host;
      if (host?.state === "running" && (best === null || host.calls.size < best.calls.size)) best = host;
    }
    if (best) return best;
    const next = Math.min(...slots.filter((s) => s.restart !== null).map((s) => s.restartAt));
    const last = slots.find((s) => s.lastExit !== null)?.lastExit ?? "exited";
    throw new UnavailableError(
      `no sandbox host is running: they keep exiting (the last one ${last}); the next starts in ${Math.max(0, next - Date.now())} ms`,
      {
        fix: "retry shortly; if hosts keep exiting, check the tool router's log for their stderr, or set tools.sandbox.mode to process_per_call",
      },
    );
  };

  const run: RunInSandbox = (spec, hooks) =>
    new Promise<ToolCallOutcome>((resolve, reject) => {
      if (closed) {
        reject(
          new UnavailableError("the tool router's sandbox hosts are stopped", {
            fix: "the router is shutting down; retry against a running one",
          }),
        );
        return;
      }
      const host = pick();
      sequence += 1;
      const id = String(sequence);
      const onAbort = () => {
        send(host, { cancel: id });
        const timer = setTimeout(() => {
          killGroup(call.pid);
          call.settle({
            error: new UnavailableError(
              `the call did not end within ${cancelGraceMs} ms of its cancel; ${call.pid === null ? "its CLI had not started" : `its CLI's process group ${call.pid} was killed`}`,
              {
                fix: "nothing to do for this call; if it happens again, check the tool router's log for the sandbox host's stderr",
              },
            ),
          });
        }, cancelGraceMs);
        call.timers.push(timer);
      };
      const call: HostCall = {
        id,
        hooks,
        pid: null,
        timers: [],
        settle: (outcome) => {
          if (host.calls.get(id) !== call) return;
          host.calls.delete(id);
          for (const timer of call.timers) clearTimeout(timer);
          hooks.signal?.removeEventListener("abort", onAbort);
          setRef(host);
          finishIfDrained(host);
          if ("result" in outcome) resolve(outcome.result);
          else reject(outcome.error);
        },
      };
      host.calls.set(id, call);
      host.sent += 1;
      setRef(host);
      send(host, { call: id, request: sandboxExecRequest(spec, options) });

      const timeoutMs = (spec.timeout_ms ?? options.defaultTimeoutMs ?? 120_000) + (options.graceMs ?? 15_000);
      call.timers.push(
        setTimeout(() => {
          send(host, { cancel: id });
          killGroup(call.pid);
          call.settle({
            error: new UnavailableError(
              `the sandbox host did not finish the call within ${timeoutMs} ms (its timeout and the grace period); ${call.pid === null ? "its CLI had not started" : `its CLI's process group ${call.pid} was killed`}`,
              {
                fix: "check the tool router's log for the sandbox host's stderr; raise the call's timeout_ms if the tool is slow",
              },
            ),
          });
        }, timeoutMs),
      );
      if (hooks.signal?.aborted) onAbort();
      else hooks.signal?.addEventListener("abort", onAbort, { once: true });
      if (host.sent >= recycleAfter) recycle(host);
    });

  if (options.prestart) startAll();

  return Object.assign(run, {
    hostPids: () =>
      slots.flatMap((s) => (s.host?.state === "running" && s.host.child?.pid !== undefined ? [s.host.child.pid] : [])),
    async close() {
      closed = true;
      const hosts = [...draining, ...slots.flatMap((s) => (s.host ? [s.host] : []))];
      for (const slot of slots) if (slot.restart) clearTimeout(slot.restart);
      for (const host of hosts) {
        const child = await host.ready;
        if (!child || host.state === "exited") continue;
        // Idle: stdin closed ends it. Busy: SIGTERM cancels its calls (their process groups are stopped).
        if (host.calls.size === 0) child.stdin?.end();
        else child.kill("SIGTERM");
        const force = setTimeout(() => child.kill("SIGKILL"), 5000);
        void host.exited.then(() => clearTimeout(force));
      }
      await Promise.all(hosts.map((host) => host.exited));
      await sweeping;
    },
  });
}

function killGroup(pgid: number | null): void {
  if (pgid === null) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone.
  }
}

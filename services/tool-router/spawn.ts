/**
 * Runs tool calls in `sandbox-exec` processes and turns their JSON lines back
 * into callbacks and a result, in one of two modes (config `tools.sandbox.mode`):
 *
 * - `host` (the default): a small pool of long-lived sandbox-exec processes, each
 *   serving many calls at once (sandbox-host.ts), so no call waits for Node to start;
 * - `process_per_call`: every call in a sandbox-exec process of its own (below), the
 *   strictest isolation: nothing of one call's sandbox process is there for the next.
 *
 * In both, the CLI runs in its own process group with a clean environment and a
 * private work dir, and a crash of a sandbox process (or of the tool) cannot take
 * the router down. Per call, aborting kills the sandbox process, which stops the
 * tool's whole process group.
 *
 * Starting Node and loading sandbox-exec's modules takes far longer than a
 * fast CLI runs, so the process runs a bundle of sandbox-exec with Node's
 * compile cache (sandbox-bundle.ts: made on first use and cached on disk;
 * the TypeScript source if it cannot be made), and with `prestart` one
 * process is started ahead and waits for its request on stdin: a call hands
 * its request to that one (still one process per call) and starts the next,
 * so the start-up is not on the path from approval to the CLI.
 */
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import type { ProblemDetails } from "../../lib/errors/index.ts";
import { UnavailableError } from "../../lib/errors/index.ts";
import {
  type ObjectStoreRef,
  parseSandboxExecMessage,
  sandboxExecError,
  type ToolCallOutcome,
} from "../../lib/tools/index.ts";
import type { RunInSandbox } from "./router.ts";
import { type SandboxExecLaunch, sandboxExecLaunch } from "./sandbox-bundle.ts";
import { createSandboxHostRunner, type SandboxHostExit, sandboxExecRequest } from "./sandbox-host.ts";
import type { SweptHostDir } from "./sandbox-host-dirs.ts";

/** `host`: calls share a pool of long-lived sandbox-exec processes; `process_per_call`: one process per call. */
export type SandboxMode = "host" | "process_per_call";

export interface SandboxProcessOptions {
  /**
   * Command that starts sandbox-exec; defaults to this Node on sandbox-exec's cached bundle
   * (sandbox-bundle.ts), with the catalog folder and Node's compile cache.
   */
  readonly command?: readonly string[] | undefined;
  /** How sandbox-exec is started when `command` is not given (tests); defaults to this process's launcher. */
  readonly launch?: (() => Promise<SandboxExecLaunch>) | undefined;
  /** Environment of the sandbox process (it reads the config and the allow-listed variables from it). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  readonly objectStore?: ObjectStoreRef | undefined;
  readonly allowFileRepos?: boolean | undefined;
  /** Extra time the sandbox process gets beyond the call's own timeout before it is killed. */
  readonly graceMs?: number | undefined;
  readonly defaultTimeoutMs?: number | undefined;
  /**
   * Start the sandbox processes now: the hosts, or one process per call started ahead and waiting
   * for its request; `close()` stops them.
   */
  readonly prestart?: boolean | undefined;
  /** `host` (default) or `process_per_call` (config `tools.sandbox.mode`). */
  readonly mode?: SandboxMode | undefined;
  /** Host mode: hosts in the pool (config `tools.sandbox.hosts`, default 2). */
  readonly hosts?: number | undefined;
  /** Host mode: calls a host serves before it is replaced (config `tools.sandbox.recycle_after_calls`, default 500). */
  readonly recycleAfterCalls?: number | undefined;
  /** Host mode: how long a canceled call may take to end before the router kills its process group. */
  readonly cancelGraceMs?: number | undefined;
  /** Host mode: told when a host exits, for the router's log. */
  readonly onHostExit?: ((exit: SandboxHostExit) => void) | undefined;
  /** Host mode: told when a folder left by a dead router's host was removed, for the router's log. */
  readonly onStaleHostDir?: ((swept: SweptHostDir) => void) | undefined;
}

/** The runner, and `close()`, which stops its sandbox processes (hosts, or the one started ahead) and waits for them. */
export type SandboxProcessRunner = RunInSandbox & { close(): Promise<void> };

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A sandbox-exec process; `exited` turns true when it has ended (a process started ahead may die waiting). */
function startSandboxProcess(file: string, args: readonly string[], env: Readonly<Record<string, string | undefined>>) {
  const child = execa(file, args, {
    cwd: REPO_ROOT,
    env: { ...env },
    extendEnv: false,
    stdin: "pipe",
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 64 * 1024 },
    reject: false,
    killDescendants: true,
    forceKillAfterDelay: 2000,
  });
  const started = { child, exited: false };
  void child.finally(() => {
    started.exited = true;
  });
  return started;
}

type StartedSandboxProcess = ReturnType<typeof startSandboxProcess>;
type SandboxProcess = StartedSandboxProcess["child"];

export function createSandboxProcessRunner(options: SandboxProcessOptions = {}): SandboxProcessRunner {
  const launch = options.command ? commandLaunch(options.command) : (options.launch ?? sandboxExecLaunch);
  const env = options.env ?? process.env;
  if ((options.mode ?? "host") === "host") {
    return createSandboxHostRunner({
      launch,
      env,
      objectStore: options.objectStore,
      allowFileRepos: options.allowFileRepos,
      graceMs: options.graceMs,
      defaultTimeoutMs: options.defaultTimeoutMs,
      hosts: options.hosts,
      recycleAfterCalls: options.recycleAfterCalls,
      cancelGraceMs: options.cancelGraceMs,
      prestart: options.prestart,
      onHostExit: options.onHostExit,
      onStaleHostDir: options.onStaleHostDir,
    });
  }
  const startProcess = async () => {
    const { file, args, env: added } = await launch();
    return startSandboxProcess(file, args, { ...env, ...added });
  };
  let closed = false;
  let spare = options.prestart ? startProcess() : null;
  /**
   * The process started ahead if it is still alive (else a new one), and the next one started.
   * The spare is taken before anything is awaited, so two calls never get the same process. (The
   * child is a promise of its end: it stays wrapped, or awaiting would wait for the process to end.)
   */
  const take = async (): Promise<StartedSandboxProcess> => {
    const ahead = spare;
    spare = options.prestart && !closed ? startProcess() : null;
    const ready = ahead ? await ahead : null;
    return ready !== null && !ready.exited ? ready : await startProcess();
  };

  const run: RunInSandbox = async (spec, hooks) => {
    const timeoutMs = (spec.timeout_ms ?? options.defaultTimeoutMs ?? 120_000) + (options.graceMs ?? 15_000);
    const { child } = await take();
    // The clock and the cancellation start with the call, not with the process started ahead.
    const kill = () => child.kill();
    const timer = setTimeout(kill, timeoutMs);
    if (hooks.signal?.aborted) kill();
    hooks.signal?.addEventListener("abort", kill, { once: true });
    child.stdin.end(JSON.stringify(sandboxExecRequest(spec, options)));
    try {
      return await outcomeOf(child, hooks);
    } finally {
      clearTimeout(timer);
      hooks.signal?.removeEventListener("abort", kill);
    }
  };
  return Object.assign(run, {
    async close() {
      closed = true;
      const ahead = spare;
      spare = null;
      const started = await ahead;
      if (started && !started.exited) {
        started.child.kill();
        await started.child;
      }
    },
  });
}

/** A caller's own command, started as it is. */
function commandLaunch(command: readonly string[]): () => Promise<SandboxExecLaunch> {
  const [file, ...args] = command as [string, ...string[]];
  const launch: SandboxExecLaunch = { file, args, env: {}, bundle: null };
  return () => Promise.resolve(launch);
}

/** Reads the sandbox's JSON lines into the hooks until it exits; its result, or its typed error. */
async function outcomeOf(child: SandboxProcess, hooks: Parameters<RunInSandbox>[1]): Promise<ToolCallOutcome> {
  let result: ToolCallOutcome | undefined;
  let problem: ProblemDetails | undefined;
  for await (const raw of child.iterable({ from: "stdout" })) {
    const message = parseSandboxExecMessage(raw);
    if (message === null) continue;
    if (message.type === "started") hooks.onStarted({ binary: message.binary, argv: message.argv });
    else if (message.type === "output") hooks.onLine({ seq: message.seq, stream: message.stream, line: message.line });
    else if (message.type === "result") result = message.result;
    else if (message.type === "error") problem = message.error;
  }
  const exit = await child;
  if (result) return result;
  // Re-raise the sandbox's typed error with its code, status, field and fix intact.
  if (problem) throw sandboxExecError(problem);
  throw new UnavailableError(
    `sandbox-exec ended without a result (exit ${exit.exitCode ?? exit.signal}): ${String(exit.stderr).slice(0, 2000)}`,
    { fix: "check the tool router's logs; the sandbox process crashed or was killed" },
  );
}

/**
 * sandbox-exec as a host (`--serve`), transport-free: reads the host protocol's lines
 * (lib/tools/sandbox-protocol.ts), runs each call through `runSandboxExec` as it comes, many at
 * once, and writes every call's messages with its call id. Each CLI still runs in its own process
 * group with a clean environment and a private work dir (lib/tools/sandbox.ts); what the calls
 * share is this process, its loaded modules and its catalog.
 *
 * With a `workRoot` (the router's folder for this host), the work dirs are made in it, and each CLI
 * is recorded there (`cli-<pid>.json`) the moment it is spawned, before its `started` line is
 * written, until just before its call's result: if this process dies, the router kills what is
 * recorded, including a CLI whose `started` line it never read, and removes the folder.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toProblem, ValidationError } from "../../lib/errors/index.ts";
import {
  parseSandboxHostCommand,
  type SandboxCliRecord,
  type SandboxExecMessage,
  type SandboxHostMessage,
  sandboxCliRecordName,
} from "../../lib/tools/sandbox-protocol.ts";
import { runSandboxExec, type SandboxExecDeps } from "./run.ts";

export interface SandboxServeDeps extends Omit<SandboxExecDeps, "write" | "signal" | "tmpRoot"> {
  readonly write: (message: SandboxHostMessage) => void;
  /** Aborted (SIGTERM): every call in flight is canceled, which stops its CLI's process group. */
  readonly signal?: AbortSignal | undefined;
  /** The router's folder for this host (`--work-root`): work dirs and CLI records go in it. */
  readonly workRoot?: string | undefined;
  /** Where a record that could not be written or removed is reported (the host's stderr). */
  readonly warn?: ((line: string) => void) | undefined;
  /**
   * Tests only (`--test-withhold-started`, refused outside node's test runner): the CLI is recorded
   * but its `started` line is never written, so a test can kill the host in the moment the router
   * has not yet heard of a running CLI.
   */
  readonly withholdStarted?: boolean | undefined;
}

/**
 * Serves the calls read from `lines` until the lines end (stdin closed) or `signal` aborts, then
 * waits for the calls still in flight; resolves once every one has written its result or error.
 */
export async function serveSandboxCalls(lines: AsyncIterable<string>, deps: SandboxServeDeps): Promise<void> {
  const inFlight = new Map<string, { readonly controller: AbortController; readonly done: Promise<void> }>();
  const cancelAll = () => {
    for (const call of inFlight.values()) call.controller.abort();
  };
  deps.signal?.addEventListener("abort", cancelAll, { once: true });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      const command = parseSandboxHostCommand(line);
      if (command.type === "cancel") {
        // A cancel that crossed its call's result on the pipes finds nothing to cancel: not an error.
        inFlight.get(command.call)?.controller.abort();
      } else if (command.type === "invalid") {
        deps.write({ call: command.call, type: "error", error: toProblem(command.error) });
      } else if (inFlight.has(command.call)) {
        const error = new ValidationError(`call ${command.call} is already in flight on this host`, {
          field: "call",
          fix: "give every call its own id",
        });
        deps.write({ call: command.call, type: "error", error: toProblem(error) });
      } else {
        const { call } = command;
        const controller = new AbortController();
        if (deps.signal?.aborted) controller.abort();
        const done = runSandboxExec(command.request, {
          ...deps,
          write: recordingWrites(call, deps),
          signal: controller.signal,
          tmpRoot: deps.workRoot,
        }).then(() => {
          inFlight.delete(call);
        });
        inFlight.set(call, { controller, done });
      }
    }
  } finally {
    await Promise.all([...inFlight.values()].map((call) => call.done));
    deps.signal?.removeEventListener("abort", cancelAll);
  }
}

/**
 * One call's writes, with its call id; with a work root, its CLI recorded from the moment it was
 * spawned (the `started` message comes synchronously from the spawn) until its call ends.
 */
function recordingWrites(call: string, deps: SandboxServeDeps): (message: SandboxExecMessage) => void {
  let recorded: string | null = null;
  return (message) => {
    if (message.type === "started") {
      if (deps.workRoot !== undefined) {
        const record: SandboxCliRecord = { call, pid: message.pid, binary: message.binary, argv: message.argv };
        const path = join(deps.workRoot, sandboxCliRecordName(message.pid));
        try {
          writeFileSync(path, JSON.stringify(record), { mode: 0o600 });
          recorded = path;
        } catch (error) {
          deps.warn?.(
            `sandbox-exec: could not record call ${call}'s CLI (pid ${message.pid}) in ${path}: ${(error as Error).message}; if this host dies, only its started line tells the router about it`,
          );
        }
      }
      if (deps.withholdStarted) return;
    } else if ((message.type === "result" || message.type === "error") && recorded !== null) {
      // The CLI's group is gone by now (the sandbox kills what is left of it before the result).
      try {
        rmSync(recorded, { force: true });
      } catch (error) {
        deps.warn?.(`sandbox-exec: could not remove ${recorded}: ${(error as Error).message}`);
      }
      recorded = null;
    }
    deps.write({ call, ...message });
  };
}

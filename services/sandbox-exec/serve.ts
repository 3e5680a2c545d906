/**
 * sandbox-exec as a host (`--serve`), transport-free: reads the host protocol's lines
 * (lib/tools/sandbox-protocol.ts), runs each call through `runSandboxExec` as it comes, many at
 * once, and writes every call's messages with its call id. Each CLI still runs in its own process
 * group with a clean environment and a private work dir (lib/tools/sandbox.ts); what the calls
 * share is this process, its loaded modules and its catalog.
 */
import { toProblem, ValidationError } from "../../lib/errors/index.ts";
import { parseSandboxHostCommand, type SandboxHostMessage } from "../../lib/tools/sandbox-protocol.ts";
import { runSandboxExec, type SandboxExecDeps } from "./run.ts";

export interface SandboxServeDeps extends Omit<SandboxExecDeps, "write" | "signal"> {
  readonly write: (message: SandboxHostMessage) => void;
  /** Aborted (SIGTERM): every call in flight is canceled, which stops its CLI's process group. */
  readonly signal?: AbortSignal | undefined;
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
          write: (message) => deps.write({ call, ...message }),
          signal: controller.signal,
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

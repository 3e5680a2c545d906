/**
 * Runs one tool call in its own `sandbox-exec` process and turns its JSON
 * lines back into callbacks and a result. A crash of the sandbox process (or
 * of the tool) cannot take the router down; aborting kills the sandbox
 * process, which stops the tool's whole process group.
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

export interface SandboxProcessOptions {
  /** Command that starts sandbox-exec; defaults to this Node with tsx on services/sandbox-exec/main.ts. */
  readonly command?: readonly string[] | undefined;
  /** Environment of the sandbox process (it reads the config and the allow-listed variables from it). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  readonly objectStore?: ObjectStoreRef | undefined;
  readonly allowFileRepos?: boolean | undefined;
  /** Extra time the sandbox process gets beyond the call's own timeout before it is killed. */
  readonly graceMs?: number | undefined;
  readonly defaultTimeoutMs?: number | undefined;
}

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = fileURLToPath(new URL("../sandbox-exec/main.ts", import.meta.url));

export function createSandboxProcessRunner(options: SandboxProcessOptions = {}): RunInSandbox {
  const command = options.command ?? [process.execPath, "--import", "tsx", MAIN];
  return async (spec, hooks) => {
    const [file, ...args] = command as [string, ...string[]];
    const timeout = (spec.timeout_ms ?? options.defaultTimeoutMs ?? 120_000) + (options.graceMs ?? 15_000);
    const child = execa(file, args, {
      cwd: REPO_ROOT,
      env: { ...(options.env ?? process.env) },
      extendEnv: false,
      input: JSON.stringify({
        ...spec,
        ...(options.objectStore ? { object_store: options.objectStore } : {}),
        ...(options.allowFileRepos ? { allow_file_repos: true } : {}),
      }),
      buffer: { stdout: false, stderr: true },
      maxBuffer: { stderr: 64 * 1024 },
      reject: false,
      timeout,
      killDescendants: true,
      forceKillAfterDelay: 2000,
      ...(hooks.signal ? { cancelSignal: hooks.signal } : {}),
    });
    let result: ToolCallOutcome | undefined;
    let problem: ProblemDetails | undefined;
    for await (const raw of child.iterable({ from: "stdout" })) {
      const message = parseSandboxExecMessage(raw);
      if (message === null) continue;
      if (message.type === "started") hooks.onStarted({ binary: message.binary, argv: message.argv });
      else if (message.type === "output")
        hooks.onLine({ seq: message.seq, stream: message.stream, line: message.line });
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
  };
}

/**
 * The sandbox executor: runs one argv, and only that argv.
 *
 * - No shell: the argv goes to execve as is (execa with `shell: false`).
 * - A clean environment: an allow-list of variables from the host, plus the
 *   credentials this call needs, resolved from secret references at the last
 *   moment; nothing else leaks in (`extendEnv: false`).
 * - A private working directory (mode 0700), removed afterwards, whatever happened.
 * - The process runs in its own process group; a timeout or cancellation
 *   signals the whole group (SIGTERM, then SIGKILL after a grace period), and
 *   when the main process exits, anything it left behind in its group is killed.
 * - Output streams through line by line, redacted, to a callback; at most
 *   `maxOutputBytes` per stream is kept or forwarded, the rest is drained and
 *   counted (never buffered) and the result says it was truncated. A line
 *   longer than 64 KiB is passed on in pieces, cut so that no piece holds part
 *   of an injected secret (output-lines.ts).
 * - The result records the exact argv, the binary's absolute path, exit code,
 *   signal, duration and output hashes.
 */
import { createHash } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import type { Readable } from "node:stream";
import { execa } from "execa";
import type { SecretRef } from "../config/index.ts";
import { resolveSecret as defaultResolveSecret } from "../config/index.ts";
import { UnavailableError, ValidationError } from "../errors/index.ts";
import { createLineScrubber, defaultScrub, type Scrub } from "../redact/index.ts";
import { createLineSplitter } from "./output-lines.ts";

export type OutputStream = "stdout" | "stderr";

/** One line of tool output, already redacted. `seq` counts lines across both streams, from 0. */
export interface OutputLine {
  readonly seq: number;
  readonly stream: OutputStream;
  readonly line: string;
}

export interface StreamSummary {
  /** Bytes the tool wrote to the stream, including any that were dropped. */
  readonly bytes: number;
  /** The kept (redacted, capped) text, lines joined with "\n". */
  readonly text: string;
  /** sha256 of `text`: what evidence stores and what events carry. */
  readonly sha256: string;
  readonly truncated: boolean;
}

export interface SandboxResult {
  /** The exact argv run (argv[0] is the binary name as built). */
  readonly argv: readonly string[];
  /** Absolute path of the executable that ran. */
  readonly binary: string;
  readonly via: "cli";
  /** Exit code, or null when a signal ended the process. */
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly timed_out: boolean;
  readonly canceled: boolean;
  readonly truncated: boolean;
  readonly duration_ms: number;
  readonly started_at: string;
  readonly finished_at: string;
  readonly stdout: StreamSummary;
  readonly stderr: StreamSummary;
  /** Process group id the call ran in (tests use it to prove nothing survived). */
  readonly pgid: number | null;
}

/** What the argv builder gets: the private work dir, to place files (values, secrets) in. */
export interface WorkDirContext {
  readonly workDir: string;
  /** Registers a value the redactor must scrub (e.g. a secret written to a file for the tool). */
  readonly addSecret: (value: string) => void;
}

export interface SandboxCall {
  /** The argv, or a function building it once the private work dir exists. */
  readonly argv: readonly string[] | ((ctx: WorkDirContext) => Promise<readonly string[]> | readonly string[]);
  /** Non-secret variables for this tool (e.g. `AWS_PAGER=""`). Names must be upper-case identifiers. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Credentials for this tool: variable name → secret reference. Resolved here, never logged. */
  readonly credentials?: Readonly<Record<string, SecretRef>> | undefined;
  readonly timeoutMs?: number | undefined;
  readonly maxOutputBytes?: number | undefined;
  /** Lines forwarded to `onLine` as they arrive, after redaction. */
  readonly onLine?: ((line: OutputLine) => void) | undefined;
  /** Called once the process started, with its pid (= its process group id). */
  readonly onSpawn?: ((info: { pid: number; binary: string; argv: readonly string[] }) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface SandboxDeps {
  /** Host variables passed through (config `tools.env_allow`). */
  readonly envAllow: readonly string[];
  /** Where the allow-listed variables are read from; `process.env` by default. */
  readonly hostEnv?: Readonly<Record<string, string | undefined>> | undefined;
  readonly resolveSecret?: ((ref: SecretRef) => string | null) | undefined;
  /** Extra scrubber applied after the built-in one (e.g. one with the configured `redact_patterns`). */
  readonly redact?: Scrub | undefined;
  readonly defaultTimeoutMs?: number | undefined;
  readonly defaultMaxOutputBytes?: number | undefined;
  /** SIGTERM → SIGKILL grace period. */
  readonly killGraceMs?: number | undefined;
  /** Parent folder of the private work dirs. */
  readonly tmpRoot?: string | undefined;
  /** A longer output line is passed on in pieces of at most this many bytes; 64 KiB by default (tests make it small). */
  readonly maxLineBytes?: number | undefined;
}

export interface Sandbox {
  run(call: SandboxCall): Promise<SandboxResult>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function createSandbox(deps: SandboxDeps): Sandbox {
  const hostEnv = deps.hostEnv ?? process.env;
  const resolve = deps.resolveSecret ?? ((ref: SecretRef) => defaultResolveSecret(ref, hostEnv));
  const killGraceMs = deps.killGraceMs ?? 2000;

  return {
    async run(call) {
      const env: Record<string, string> = {};
      for (const name of deps.envAllow) {
        const value = hostEnv[name];
        if (value !== undefined) env[name] = value;
      }
      for (const [name, value] of Object.entries(call.env ?? {})) {
        assertEnvName(name, "env");
        env[name] = value;
      }
      const secrets: string[] = [];
      for (const [name, ref] of Object.entries(call.credentials ?? {})) {
        assertEnvName(name, "credentials");
        const value = resolve(ref);
        if (value === null) {
          throw new UnavailableError(`credential ${name} for this tool is not available (${ref} is unset or empty)`, {
            field: `tools.credentials.${name}`,
            fix: ref.startsWith("env:")
              ? `export ${ref.slice(4)} in the tool router's environment`
              : `create ${ref.slice(5)} with the credential in it`,
          });
        }
        env[name] = value;
        secrets.push(value);
      }

      const workDir = await mkdtemp(join(deps.tmpRoot ?? tmpdir(), "wh-tool-"));
      try {
        const argv = [
          ...(typeof call.argv === "function"
            ? await call.argv({ workDir, addSecret: (s) => secrets.push(s) })
            : call.argv),
        ];
        const name = argv[0];
        if (name === undefined || name.length === 0) {
          throw new ValidationError("the command is empty", { field: "argv", fix: "build the argv with buildCommand" });
        }
        const binary = await findExecutable(name, env.PATH ?? "");
        if (binary === null) {
          throw new UnavailableError(`${name} is not installed (not found on the tool PATH)`, {
            field: "argv.0",
            fix: `install ${name} or add its folder to PATH in the tool router's environment`,
          });
        }
        // The injected secrets' values are masked as the output is split into lines (output-lines.ts),
        // where a long line's cuts are placed around them; the detectors run on each line after that.
        const redact: Scrub = deps.redact ? (s) => (deps.redact as Scrub)(defaultScrub(s)) : defaultScrub;
        return await spawnAndCollect({
          binary,
          argv,
          env,
          workDir,
          redact,
          secrets,
          maxLineBytes: deps.maxLineBytes,
          timeoutMs: call.timeoutMs ?? deps.defaultTimeoutMs ?? 120_000,
          maxOutputBytes: call.maxOutputBytes ?? deps.defaultMaxOutputBytes ?? 8 * 1024 * 1024,
          killGraceMs,
          onLine: call.onLine,
          onSpawn: call.onSpawn,
          signal: call.signal,
        });
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
    },
  };
}

function assertEnvName(name: string, field: string): void {
  if (!ENV_NAME.test(name)) {
    throw new ValidationError(`${field} name "${name}" is not a valid environment variable name`, {
      field: `${field}.${name}`,
      fix: "use letters, digits and underscores, not starting with a digit",
    });
  }
}

/** Looks a command up on PATH the way execvp would; an absolute path is checked as is. */
export async function findExecutable(name: string, pathValue: string): Promise<string | null> {
  const candidates = isAbsolute(name)
    ? [name]
    : name.includes("/")
      ? []
      : pathValue
          .split(delimiter)
          .filter((d) => isAbsolute(d))
          .map((d) => join(d, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here; try the next folder
    }
  }
  return null;
}

interface SpawnParams {
  binary: string;
  argv: string[];
  env: Record<string, string>;
  workDir: string;
  redact: Scrub;
  secrets: readonly string[];
  maxLineBytes: number | undefined;
  timeoutMs: number;
  maxOutputBytes: number;
  killGraceMs: number;
  onLine: ((line: OutputLine) => void) | undefined;
  onSpawn: ((info: { pid: number; binary: string; argv: readonly string[] }) => void) | undefined;
  signal: AbortSignal | undefined;
}

async function spawnAndCollect(p: SpawnParams): Promise<SandboxResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  let seq = 0;
  let callbackError: unknown;
  const emit = (stream: OutputStream, line: string) => {
    try {
      p.onLine?.({ seq: seq++, stream, line });
    } catch (error) {
      // A consumer that cannot take the output must not leave the tool running unobserved.
      callbackError ??= error;
      if (pgid !== null) killGroup(pgid);
    }
  };

  const subprocess = execa(p.binary, p.argv.slice(1), {
    argv0: p.argv[0],
    shell: false,
    cwd: p.workDir,
    env: p.env,
    extendEnv: false,
    stdin: "ignore",
    buffer: false,
    encoding: "buffer",
    reject: false,
    timeout: p.timeoutMs,
    ...(p.signal ? { cancelSignal: p.signal } : {}),
    // Own process group; timeouts and cancellation signal the whole group, not just the child.
    killDescendants: true,
    forceKillAfterDelay: p.killGraceMs,
    cleanup: true,
  });
  const pgid = subprocess.pid ?? null;
  if (pgid !== null) p.onSpawn?.({ pid: pgid, binary: p.binary, argv: p.argv });
  // Once the main process is gone, nothing it started may outlive it: kill what is left of its group.
  subprocess.nodeChildProcess.once("exit", () => {
    if (pgid !== null) killGroup(pgid);
  });

  let settled: [Awaited<typeof subprocess>, StreamSummary, StreamSummary];
  try {
    settled = await Promise.all([
      subprocess,
      collect(subprocess.stdout as Readable, "stdout", p, emit),
      collect(subprocess.stderr as Readable, "stderr", p, emit),
    ]);
  } finally {
    // Whatever went wrong on our side (a throwing callback, a stream error), the tool does not keep running.
    if (pgid !== null) killGroup(pgid);
  }
  const [result, out, err] = settled;
  if (callbackError !== undefined) throw callbackError;

  if (result.failed && result.exitCode === undefined && result.signal === undefined && !result.timedOut) {
    // execa could not start the process at all (ENOENT, EACCES after the lookup).
    throw new UnavailableError(`could not start ${p.binary}: ${result.shortMessage ?? result.message}`, {
      field: "argv.0",
      fix: "check that the binary exists and is executable",
      cause: result,
    });
  }
  const finishedAt = new Date();
  return {
    argv: p.argv,
    binary: p.binary,
    via: "cli",
    exit_code: result.exitCode ?? null,
    signal: result.signal ?? null,
    timed_out: result.timedOut,
    canceled: result.isCanceled,
    truncated: out.truncated || err.truncated,
    duration_ms: Math.round(performance.now() - t0),
    started_at: startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    stdout: out,
    stderr: err,
    pgid,
  };
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: the group is already empty, which is the ordinary case.
  }
}

/**
 * Reads a stream to its end. Keeps and forwards complete lines (or pieces of an
 * over-long line) until the cap, then only counts bytes: the tool is never
 * blocked on a full pipe and memory stays bounded by the cap plus one piece.
 */
function collect(
  stream: Readable,
  name: OutputStream,
  p: SpawnParams,
  emit: (stream: OutputStream, line: string) => void,
): Promise<StreamSummary> {
  // One per stream: a private key printed over several lines is redacted from BEGIN to END.
  const redactLine = createLineScrubber(p.redact);
  return new Promise((resolvePromise, rejectPromise) => {
    let bytes = 0;
    let kept = 0;
    let truncated = false;
    const lines: string[] = [];
    const hash = createHash("sha256");

    const splitter = createLineSplitter({
      secrets: p.secrets,
      maxLineBytes: p.maxLineBytes,
      onLine: (masked, size) => {
        if (truncated) return;
        if (kept + size + 1 > p.maxOutputBytes) {
          truncated = true;
          return;
        }
        kept += size + 1;
        const line = redactLine(masked.replace(/\r$/, ""));
        hash.update(lines.length === 0 ? line : `\n${line}`);
        lines.push(line);
        emit(name, line);
      },
    });

    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (!truncated) splitter.push(chunk);
    });
    stream.once("end", () => {
      if (!truncated) splitter.end();
      resolvePromise({ bytes, text: lines.join("\n"), sha256: hash.digest("hex"), truncated });
    });
    stream.once("error", rejectPromise);
  });
}

/**
 * The sandbox-exec protocol, shared by the tool router and sandbox-exec itself, in two forms.
 *
 * One call per process (`sandbox-exec`): one request in, JSON lines out.
 * In:  one JSON object, a `SandboxExecRequest` (a tool-call spec plus how to
 *      reach the artifact store; secret *references* only, never values).
 * Out: `{"type":"started",...}`, then `{"type":"output","stream":"stdout","seq":0,"line":"..."}`
 *      per line (redacted), then exactly one `{"type":"result","result":{...}}`
 *      or `{"type":"error","error":{problem+json}}`.
 *
 * A host (`sandbox-exec --serve`): many calls at once over one pair of pipes, JSON lines both ways.
 * In:  `{"call":"<id>","request":{...SandboxExecRequest}}` starts a call; `{"cancel":"<id>"}` cancels it.
 * Out: the same messages as above, each with the `call` it belongs to:
 *      `{"call":"<id>","type":"started",...}` ... `{"call":"<id>","type":"result",...}`. A line the
 *      host cannot read is answered with an `error` for its call id, or `"call":null` when not even
 *      that can be read.
 *      Started with `--work-root=<dir>` (the tool router always passes it: a folder of its own per
 *      host), the host makes its calls' work dirs in that folder and, the moment a CLI is spawned and
 *      before its `started` line, writes `<dir>/cli-<pid>.json` (a `SandboxCliRecord`), removed again
 *      before the call's `result` or `error`: when the host dies, the router finds there every CLI it
 *      started, including one whose `started` line the router never read.
 */
import type { SecretRef } from "../config/index.ts";
import { type ProblemDetails, RelayedError, ValidationError, type WheelhouseError } from "../errors/index.ts";
import type { ToolCallOutcome, ToolCallSpec } from "./execute.ts";

/** How the sandbox process reaches the object store that `object_store` artifacts are read from. */
export interface ObjectStoreRef {
  readonly endpoint: string;
  readonly region?: string | undefined;
  readonly access_key: SecretRef;
  readonly secret_key: SecretRef;
}

export interface SandboxExecRequest extends ToolCallSpec {
  /** Where `object_store` artifacts are read from. */
  readonly object_store?: ObjectStoreRef | undefined;
  /** Allow `file://` git artifacts (single-machine setups and tests). */
  readonly allow_file_repos?: boolean | undefined;
}

/** One line the sandbox process writes to stdout. */
export type SandboxExecMessage =
  | { type: "started"; pid: number; binary: string; argv: readonly string[] }
  | { type: "output"; stream: "stdout" | "stderr"; seq: number; line: string }
  | { type: "result"; result: ToolCallOutcome }
  | { type: "error"; error: ProblemDetails };

/** A host's line: a `SandboxExecMessage` with the call it belongs to (null: a line whose call could not be read). */
export type SandboxHostMessage = SandboxExecMessage & { call: string | null };

/**
 * A line written to a host, read: a call to start, a call to cancel, or a line that is neither, with
 * the problem and the call id when it could be read (the host answers it with an `error` for that id).
 */
export type SandboxHostCommand =
  | { type: "call"; call: string; request: SandboxExecRequest }
  | { type: "cancel"; call: string }
  | { type: "invalid"; call: string | null; error: ValidationError };

/**
 * What a host records about a CLI it spawned, in `<work root>/cli-<pid>.json`: the call it belongs
 * to and what its `started` line says. The pid (= its process group) is in the file's name too, so
 * a record cut short by the host's death still names the group to kill.
 */
export interface SandboxCliRecord {
  readonly call: string;
  readonly pid: number;
  readonly binary: string;
  readonly argv: readonly string[];
}

/** The file name of a host's record of the CLI with this pid (see `SandboxCliRecord`). */
export function sandboxCliRecordName(pid: number): string {
  return `cli-${pid}.json`;
}

/** The pid a file name of a CLI record names, or null for any other file. */
export function parseSandboxCliRecordName(name: string): number | null {
  const match = /^cli-([1-9]\d*)\.json$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** Reads a CLI record's text; null when it is not a whole record (the host died while writing it). */
export function parseSandboxCliRecord(text: string): SandboxCliRecord | null {
  try {
    const record = JSON.parse(text) as Partial<SandboxCliRecord> | null;
    if (
      typeof record?.call !== "string" ||
      typeof record.pid !== "number" ||
      typeof record.binary !== "string" ||
      !Array.isArray(record.argv) ||
      !record.argv.every((arg) => typeof arg === "string")
    ) {
      return null;
    }
    return record as SandboxCliRecord;
  } catch {
    return null;
  }
}

/** Reads the one request on the sandbox process's stdin; a `ValidationError` says what is missing. */
export function parseSandboxExecRequest(raw: string): SandboxExecRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (cause) {
    throw new ValidationError("stdin is not valid JSON", {
      field: "(stdin)",
      fix: "write one JSON tool-call spec to stdin",
      cause,
    });
  }
  return toSandboxExecRequest(doc, "(stdin)", "");
}

/** Checks a parsed request; `where` names it in errors (`(stdin)`, `request`), `prefix` goes before its fields. */
function toSandboxExecRequest(doc: unknown, where: string, prefix: string): SandboxExecRequest {
  const r = doc as Partial<SandboxExecRequest> | null;
  if (typeof r !== "object" || r === null || typeof r.action_id !== "string" || typeof r.tool_call_id !== "string") {
    throw new ValidationError("the request needs tool_call_id, action_id and input", {
      field: where,
      fix: 'send {"tool_call_id": "...", "action_id": "kubectl.get", "input": {...}}',
    });
  }
  if (typeof r.input !== "object" || r.input === null) {
    throw new ValidationError("input must be an object", {
      field: `${prefix}input`,
      fix: "send the action's input object",
    });
  }
  return r as SandboxExecRequest;
}

/** One line written to a host (`sandbox-exec --serve`); never throws: a bad line comes back as `invalid`. */
export function parseSandboxHostCommand(line: string): SandboxHostCommand {
  const fix = 'write one JSON object per line: {"call":"<id>","request":{...}} or {"cancel":"<id>"}';
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (cause) {
    return {
      type: "invalid",
      call: null,
      error: new ValidationError("the line is not valid JSON", { field: "(line)", fix, cause }),
    };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    return {
      type: "invalid",
      call: null,
      error: new ValidationError("the line is not a JSON object", { field: "(line)", fix }),
    };
  }
  const command = doc as { call?: unknown; cancel?: unknown; request?: unknown };
  if ("cancel" in command) {
    if (typeof command.cancel === "string" && command.cancel !== "") return { type: "cancel", call: command.cancel };
    return {
      type: "invalid",
      call: null,
      error: new ValidationError("cancel must name a call id (a non-empty string)", { field: "cancel", fix }),
    };
  }
  if (typeof command.call !== "string" || command.call === "") {
    return {
      type: "invalid",
      call: null,
      error: new ValidationError('the line has no call id: "call" must be a non-empty string', { field: "call", fix }),
    };
  }
  try {
    return { type: "call", call: command.call, request: toSandboxExecRequest(command.request, "request", "request.") };
  } catch (error) {
    return { type: "invalid", call: command.call, error: error as ValidationError };
  }
}

/** One stdout line of a host as a message, or null for a line that is not one (stray output). */
export function parseSandboxHostMessage(line: string): SandboxHostMessage | null {
  const message = parseSandboxExecMessage(line) as Partial<SandboxHostMessage> | null;
  if (message === null || typeof message !== "object" || typeof message.type !== "string") return null;
  if (typeof message.call !== "string" && message.call !== null) return null;
  return message as SandboxHostMessage;
}

/** One stdout line of the sandbox process as a message, or null for a line that is not one (stray output). */
export function parseSandboxExecMessage(line: string): SandboxExecMessage | null {
  try {
    return JSON.parse(line) as SandboxExecMessage;
  } catch {
    return null;
  }
}

/** The sandbox's `error` message as the typed error it was, with its code, status, field and fix intact. */
export function sandboxExecError(problem: ProblemDetails): WheelhouseError {
  if (problem.code === "validation_failed") {
    return new ValidationError(problem.detail, {
      field: problem.field,
      fix: problem.fix,
      issues: problem.errors ?? [],
    });
  }
  return new RelayedError(problem.code, problem.status, problem.detail, {
    field: problem.field,
    fix: problem.fix,
    extra: problem.errors ? { issues: problem.errors } : undefined,
  });
}

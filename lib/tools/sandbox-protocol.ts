/**
 * The sandbox-exec protocol, shared by the tool router (which starts one
 * `sandbox-exec` process per call) and sandbox-exec itself: one request in,
 * JSON lines out.
 *
 * In:  one JSON object, a `SandboxExecRequest` (a tool-call spec plus how to
 *      reach the artifact store; secret *references* only, never values).
 * Out: `{"type":"started",...}`, then `{"type":"output","stream":"stdout","seq":0,"line":"..."}`
 *      per line (redacted), then exactly one `{"type":"result","result":{...}}`
 *      or `{"type":"error","error":{problem+json}}`.
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
  const r = doc as Partial<SandboxExecRequest> | null;
  if (typeof r !== "object" || r === null || typeof r.action_id !== "string" || typeof r.tool_call_id !== "string") {
    throw new ValidationError("the request needs tool_call_id, action_id and input", {
      field: "(stdin)",
      fix: 'send {"tool_call_id": "...", "action_id": "kubectl.get", "input": {...}}',
    });
  }
  if (typeof r.input !== "object" || r.input === null) {
    throw new ValidationError("input must be an object", { field: "input", fix: "send the action's input object" });
  }
  return r as SandboxExecRequest;
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

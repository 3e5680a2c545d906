/**
 * CLI first, API when the CLI is missing: the shape every API fallback has (GitHub's REST API for
 * gh, the Kubernetes API for kubectl), and the outcome it reports, shaped like a CLI run's so that
 * the events, the evidence and the result are the same whichever path ran; only `via: "api"`, the
 * request made (`argv` is `[method, url]`) and the binary (the URL) tell them apart.
 */
import { createHash } from "node:crypto";
import type { CatalogAction, OutputLine, ToolCallOutcome } from "../../lib/tools/index.ts";

export interface ApiRequest {
  readonly method: string;
  readonly url: string;
}

export type ApiOutcome = Omit<ToolCallOutcome, "tool_call_id" | "via"> & { via: "api"; request: ApiRequest };

export interface ApiCallHooks {
  readonly onLine: (line: OutputLine) => void;
  readonly signal?: AbortSignal | undefined;
  /** Preview the call (the server's dry run) instead of making the change. */
  readonly dryRun?: boolean | undefined;
  /** The call's own deadline, as for the CLI (ExecuteTool `timeout_ms`). */
  readonly timeoutMs?: number | undefined;
}

/** One tool's API fallback. The catalog says which actions have one (`api_fallback`). */
export interface ToolApi {
  /** The request an action makes (the main one when it makes several), for the `started` event. */
  describe(action: string, input: Readonly<Record<string, unknown>>): ApiRequest;
  run(action: string, input: Readonly<Record<string, unknown>>, hooks: ApiCallHooks): Promise<ApiOutcome>;
}

/** API fallbacks by tool (`gh`, `kubectl`); a tool absent or null has none. */
export type ToolApis = Readonly<Record<string, ToolApi | null | undefined>>;

/** The API an action falls back to when its CLI is missing, or null when it has none. */
export function apiFor(apis: ToolApis | undefined, action: CatalogAction): ToolApi | null {
  return action.api_fallback ? (apis?.[action.tool] ?? null) : null;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * Makes an API call (`call` answers what it printed, already redacted) and reports it as
 * `apiOutcome` does, timed from here.
 */
export async function callApi(
  actionId: string,
  request: ApiRequest,
  hooks: ApiCallHooks,
  call: () => Promise<{ stdout: string; stderr: string; ok: boolean }>,
): Promise<ApiOutcome> {
  const started = new Date();
  const t0 = performance.now();
  const printed = await call();
  return apiOutcome(actionId, request, { ...printed, started, t0, dryRun: hooks.dryRun === true }, hooks.onLine);
}

/**
 * The outcome of an API call that printed `stdout` and `stderr` (already redacted), each line
 * reported through `onLine` as the CLI's would be. An HTTP status is not an exit code: `ok` maps
 * to 0 and a failure to 1, so that `ok` and the status mean what they mean for the CLI.
 */
export function apiOutcome(
  actionId: string,
  request: ApiRequest,
  run: { stdout: string; stderr: string; ok: boolean; started: Date; t0: number; dryRun?: boolean },
  onLine: (line: OutputLine) => void,
): ApiOutcome {
  let seq = 0;
  for (const line of run.stdout ? run.stdout.split("\n") : []) onLine({ seq: seq++, stream: "stdout", line });
  for (const line of run.stderr ? run.stderr.split("\n") : []) onLine({ seq: seq++, stream: "stderr", line });
  const summary = (text: string) => ({ bytes: Buffer.byteLength(text), text, sha256: sha256(text), truncated: false });
  return {
    action_id: actionId,
    argv: [request.method, request.url],
    binary: request.url,
    via: "api",
    request,
    exit_code: run.ok ? 0 : 1,
    signal: null,
    timed_out: false,
    canceled: false,
    truncated: false,
    duration_ms: Math.round(performance.now() - run.t0),
    started_at: run.started.toISOString(),
    finished_at: new Date().toISOString(),
    stdout: summary(run.stdout),
    stderr: summary(run.stderr),
    pgid: null,
    dry_run: run.dryRun === true,
    ok: run.ok,
  };
}

/**
 * ExecuteTool, in three steps: admit the call (a known action, a dry run it
 * has, an input that passes the builders' checks, a way to run it), run it
 * (the CLI in a sandbox process, or the tool's API when the CLI is missing and
 * the catalog gives the action an API path),
 * and record what happened (evidence, `tool_call.completed`, the result).
 * A call refused at any step ends as `refused`, reported like any other.
 * A call whose CLI had started when its sandbox went away (a host that
 * crashed, a sandbox process killed) has no known outcome: nothing is
 * recorded as its end, and the caller gets a 503, so that the orchestrator's
 * retry finds `tool_call.started` without `tool_call.completed` and reads the
 * live state instead of running the CLI again (its unfinished-call check).
 */
import { toWheelhouseError, UnavailableError, ValidationError } from "../../lib/errors/index.ts";
import { type CatalogAction, type OutputLine, type ToolCallOutcome, validateToolInput } from "../../lib/tools/index.ts";
import type { ExecuteToolRequest, ExecuteToolResult, ToolCallStatus } from "../../schemas/rpc/tool-router.ts";
import type { CallLogs } from "./call-logs.ts";
import { catalogActionOf } from "./get-resource.ts";
import type { ToolRouterDeps, ToolRouterEvent } from "./router.ts";
import { apiFor, type ToolApi } from "./tool-api.ts";

export interface ExecuteToolDeps extends ToolRouterDeps {
  readonly logs: CallLogs;
  readonly newId: () => string;
}

/** The ids one call is recorded under. */
interface ToolCall {
  readonly toolCallId: string;
  readonly executionId: string;
  readonly stepId: string;
  readonly dryRun: boolean;
  readonly request: ExecuteToolRequest;
}

type Ran = Omit<ToolCallOutcome, "via"> & { request?: { method: string; url: string } };

export async function executeTool(
  deps: ExecuteToolDeps,
  request: ExecuteToolRequest,
  signal?: AbortSignal,
): Promise<ExecuteToolResult> {
  const call: ToolCall = {
    toolCallId: request.tool_call_id ?? deps.newId(),
    executionId: request.execution_id ?? "adhoc",
    stepId: request.step_id ?? "adhoc",
    dryRun: request.dry_run === true,
    request,
  };
  deps.logs.started(call.toolCallId);
  let admitted: { action: CatalogAction; via: "cli" | "api" };
  let ran: Ran;
  const progress = { spawned: false };
  try {
    admitted = await admit(deps, call);
    ran = await run(deps, call, admitted.action, admitted.via, signal, progress);
  } catch (error) {
    if (progress.spawned && error instanceof UnavailableError) return unfinished(deps, call, error);
    return refuse(deps, call, error);
  }
  return record(deps, call, admitted.action, admitted.via, ran);
}

/** Whether the call may run, and how: throws the reason it may not. */
async function admit(deps: ExecuteToolDeps, call: ToolCall): Promise<{ action: CatalogAction; via: "cli" | "api" }> {
  const action = catalogActionOf(deps.catalog, call.request.action_id);
  if (call.dryRun && action.kind === "write" && !action.dry_run) {
    throw new ValidationError(`${action.id} has no dry-run form`, {
      field: "dry_run",
      fix: "run it without dry_run after approval, or plan a read action to preview it",
    });
  }
  validateToolInput(action.id, call.request.input, { catalog: deps.catalog });
  if (await deps.isInstalled(action.binary)) return { action, via: "cli" };
  if (apiFor(deps.apis, action)) return { action, via: "api" };
  throw new UnavailableError(`${action.binary} is not installed on the tool router's PATH`, {
    field: "action_id",
    fix: missingCliFix(deps, action),
  });
}

/** What to do when the CLI is missing: install it, or what the API fallback would need. */
function missingCliFix(deps: ExecuteToolDeps, action: CatalogAction): string {
  const install = `install ${action.binary} where the tool router runs`;
  if (action.tool === "gh") return "install gh, or configure connectors.github.token for the REST API fallback";
  const withApi = deps.catalog
    .actions()
    .filter((a) => a.tool === action.tool && a.api_fallback)
    .map((a) => a.id);
  if (withApi.length === 0) return install;
  if (!action.api_fallback) {
    return `${install}: ${action.id} has no API path (only ${withApi.join(", ")} do)`;
  }
  return `${install}, or give the router a kubeconfig (KUBECONFIG, allowed by tools.env_allow) for the API fallback`;
}

/** Runs an admitted call, reporting `tool_call.started` and each output line as they happen. */
async function run(
  deps: ExecuteToolDeps,
  call: ToolCall,
  action: CatalogAction,
  via: "cli" | "api",
  signal: AbortSignal | undefined,
  progress: { spawned: boolean },
): Promise<Ran> {
  const { toolCallId, executionId, stepId, dryRun, request } = call;
  const started = (argv: readonly string[], binary: string) =>
    emit(deps, {
      type: "tool_call.started",
      payload: {
        execution_id: executionId,
        tool_call_id: toolCallId,
        step_id: stepId,
        action_id: action.id,
        argv: [...argv],
        binary,
        via,
        dry_run: dryRun,
      },
    });
  const onLine = (line: OutputLine) => {
    deps.logs.line(toolCallId, line);
    void emit(deps, {
      type: "tool_call.output",
      payload: {
        execution_id: executionId,
        tool_call_id: toolCallId,
        seq: line.seq,
        stream: line.stream,
        text: line.line,
      },
    });
  };
  if (via === "api") {
    const api = apiFor(deps.apis, action) as ToolApi;
    const planned = api.describe(action.action, request.input);
    await started([planned.method, planned.url], planned.url);
    const hooks = { onLine, signal, dryRun, timeoutMs: request.timeout_ms };
    return { ...(await api.run(action.action, request.input, hooks)), tool_call_id: toolCallId };
  }
  return deps.runInSandbox(
    {
      tool_call_id: toolCallId,
      execution_id: executionId,
      step_id: stepId,
      action_id: action.id,
      input: request.input,
      dry_run: dryRun,
      timeout_ms: request.timeout_ms,
    },
    {
      onStarted: ({ binary, argv }) => {
        progress.spawned = true;
        void started(argv, binary);
      },
      onLine,
      ...(signal ? { signal } : {}),
    },
  );
}

/** Stores the call's evidence, reports `tool_call.completed` and answers with the result. */
async function record(
  deps: ExecuteToolDeps,
  call: ToolCall,
  action: CatalogAction,
  via: "cli" | "api",
  outcome: Ran,
): Promise<ExecuteToolResult> {
  const { toolCallId, executionId, stepId, dryRun } = call;
  const status: ToolCallStatus = outcome.timed_out ? "timed_out" : outcome.ok ? "succeeded" : "failed";
  let evidence: { evidence_id: string; sha256: string } | null = null;
  if (deps.storeEvidence) {
    const blob = JSON.stringify({
      tool_call_id: toolCallId,
      action_id: action.id,
      via,
      argv: outcome.argv,
      binary: outcome.binary,
      exit_code: outcome.exit_code,
      stdout: outcome.stdout.text,
      stderr: outcome.stderr.text,
      truncated: outcome.truncated,
    });
    evidence = await deps.storeEvidence(dryRun ? "diff" : "tool_output", new TextEncoder().encode(blob), {
      execution_id: executionId,
      tool_call_id: toolCallId,
    });
  }
  deps.logs.ended(toolCallId, status);
  await emit(deps, {
    type: "tool_call.completed",
    payload: {
      execution_id: executionId,
      tool_call_id: toolCallId,
      step_id: stepId,
      action_id: action.id,
      via,
      status,
      exit_code: outcome.exit_code,
      duration_ms: outcome.duration_ms,
      truncated: outcome.truncated,
      stdout_sha256: outcome.stdout.sha256,
      stderr_sha256: outcome.stderr.sha256,
      ...(evidence ? { evidence_id: evidence.evidence_id } : {}),
    },
  });
  return {
    tool_call_id: toolCallId,
    execution_id: executionId,
    step_id: stepId,
    action_id: action.id,
    status,
    ok: outcome.ok,
    via,
    argv: [...outcome.argv],
    binary: outcome.binary,
    ...(outcome.request ? { request: outcome.request } : {}),
    exit_code: outcome.exit_code,
    signal: outcome.signal,
    duration_ms: outcome.duration_ms,
    truncated: outcome.truncated,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    dry_run: dryRun ? { diff: outcome.stdout.text } : null,
    evidence,
  };
}

/**
 * A call whose CLI started but whose sandbox went away before it reported: what the CLI did is not
 * known here, so no end is recorded (a `refused` would claim it did not run). The 503 tells the
 * caller to retry; the orchestrator's retry checks the live state first (unfinished-call.ts).
 */
async function unfinished(deps: ExecuteToolDeps, call: ToolCall, error: UnavailableError): Promise<never> {
  deps.logs.ended(call.toolCallId, "failed");
  throw new UnavailableError(`${call.request.action_id} started, but its outcome is unknown: ${error.message}`, {
    cause: error,
    fix: "retry the call: the orchestrator checks the live state before anything runs again",
  });
}

/** Ends a call that did not run (or whose run threw) as `refused`, and rethrows its reason. */
async function refuse(deps: ExecuteToolDeps, call: ToolCall, error: unknown): Promise<never> {
  const e = toWheelhouseError(error);
  deps.logs.ended(call.toolCallId, "refused");
  await emit(deps, {
    type: "tool_call.completed",
    payload: {
      execution_id: call.executionId,
      tool_call_id: call.toolCallId,
      step_id: call.stepId,
      action_id: call.request.action_id,
      via: null,
      status: "refused",
      exit_code: null,
      duration_ms: 0,
      truncated: false,
      error: e.message,
    },
  });
  throw e;
}

async function emit(deps: ExecuteToolDeps, event: ToolRouterEvent): Promise<void> {
  await deps.onEvent?.(event);
}

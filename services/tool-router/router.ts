/**
 * Tool router handlers, transport-free: ListTools, ExecuteTool, GetResource,
 * StreamToolLogs. Every ExecuteTool runs in its own `sandbox-exec` process
 * (CLI first); an action the catalog marks `api_fallback` runs through its
 * tool's API (gh: GitHub's REST API, kubectl: the Kubernetes API) only when
 * the CLI is not installed, and the result says which path was taken.
 */
import { randomUUID } from "node:crypto";
import type { EventPayload } from "../../events/index.ts";
import type { ArtifactStore, Catalog, OutputLine, ToolCallOutcome, ToolCallSpec } from "../../lib/tools/index.ts";
import type {
  ExecuteToolRequest,
  ExecuteToolResult,
  GetResourceRequest,
  GetResourceResult,
  ListToolsResult,
  StreamToolLogsRequest,
  ToolLogMessage,
} from "../../schemas/rpc/tool-router.ts";
import { createCallLogs } from "./call-logs.ts";
import { executeTool } from "./execute-tool.ts";
import { getResource } from "./get-resource.ts";
import { apiFor, type ToolApis } from "./tool-api.ts";

/**
 * What the router reports as calls happen; the recorder turns each into the event of the same type.
 * `tool_call.completed` also names the action and how it ran.
 */
export type ToolRouterEvent =
  | { type: "tool_call.started"; payload: EventPayload<"tool_call.started"> }
  | { type: "tool_call.output"; payload: EventPayload<"tool_call.output"> }
  | {
      type: "tool_call.completed";
      payload: EventPayload<"tool_call.completed"> & { action_id: string; via: "cli" | "api" | null };
    };

/** One CLI call through a sandbox process; `runInSandbox` in spawn.ts is the real one. */
export type RunInSandbox = (
  spec: ToolCallSpec,
  hooks: {
    onStarted: (info: { binary: string; argv: readonly string[] }) => void;
    onLine: (line: OutputLine) => void;
    signal?: AbortSignal;
  },
) => Promise<ToolCallOutcome>;

export interface ToolRouterDeps {
  readonly catalog: Catalog;
  readonly runInSandbox: RunInSandbox;
  /** Whether a CLI is installed on the tool PATH (findExecutable against the sandbox PATH). */
  readonly isInstalled: (binary: string) => Promise<boolean>;
  /**
   * API fallbacks by tool (`gh`: GitHub's REST API, `kubectl`: the Kubernetes API), used for the
   * catalog's `api_fallback` actions when the CLI is missing; a tool absent or null has none.
   */
  readonly apis?: ToolApis | undefined;
  readonly onEvent?: ((event: ToolRouterEvent) => void | Promise<void>) | undefined;
  /** Stores a call's full (redacted) output; `kind` is `diff` for dry runs, `tool_output` otherwise. */
  readonly storeEvidence?:
    | ((
        kind: "tool_output" | "diff",
        blob: Uint8Array,
        owner: { readonly execution_id: string; readonly tool_call_id: string },
      ) => Promise<{ evidence_id: string; sha256: string }>)
    | undefined;
  readonly newId?: (() => string) | undefined;
  /** Where GetResource keeps the state a rollback re-applies (kubectl.apply); none: no such rollbacks. */
  readonly artifacts?: ArtifactStore | null | undefined;
  /** Lines kept per call for StreamToolLogs, and how many finished calls are remembered. */
  readonly logLinesPerCall?: number | undefined;
  readonly logCallsKept?: number | undefined;
}

export interface ToolRouter {
  listTools(): Promise<ListToolsResult>;
  executeTool(request: ExecuteToolRequest, signal?: AbortSignal): Promise<ExecuteToolResult>;
  getResource(request: GetResourceRequest): Promise<GetResourceResult>;
  /** Lines of a call from `from_seq`, live until it ends; waits up to `wait_ms` for a call that has not started yet. */
  streamToolLogs(request: StreamToolLogsRequest): AsyncIterable<ToolLogMessage>;
}

export function createToolRouter(deps: ToolRouterDeps): ToolRouter {
  const logs = createCallLogs({ linesPerCall: deps.logLinesPerCall ?? 10_000, callsKept: deps.logCallsKept ?? 200 });
  const execute = { ...deps, logs, newId: deps.newId ?? (() => randomUUID()) };
  const run = (request: ExecuteToolRequest, signal?: AbortSignal) => executeTool(execute, request, signal);
  return {
    listTools: () => listTools(deps),
    executeTool: run,
    getResource: (request) =>
      getResource({ catalog: deps.catalog, executeTool: run, artifacts: deps.artifacts }, request),
    streamToolLogs: (request) => logs.stream(request),
  };
}

/** Every catalog action, with whether its CLI is installed and how the router would run it now. */
async function listTools(deps: ToolRouterDeps): Promise<ListToolsResult> {
  const installed = new Map<string, boolean>();
  for (const action of deps.catalog.actions()) {
    if (!installed.has(action.binary)) installed.set(action.binary, await deps.isInstalled(action.binary));
  }
  return {
    tools: deps.catalog.actions().map((action) => {
      const cli = installed.get(action.binary) === true;
      const via = cli ? "cli" : apiFor(deps.apis, action) ? "api" : null;
      return { ...action, installed: cli, via };
    }),
  };
}

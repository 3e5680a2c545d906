/**
 * Tool router handlers, transport-free: ListTools, ExecuteTool, GetResource,
 * StreamToolLogs. Every ExecuteTool runs in its own `sandbox-exec` process
 * (CLI first); GitHub PR actions fall back to the REST API only when `gh` is
 * not installed, and the result says which path was taken.
 */
import { randomUUID } from "node:crypto";
import { toWheelhouseError, UnavailableError, ValidationError } from "../../lib/errors/index.ts";
import {
  type Catalog,
  type CatalogAction,
  type OutputLine,
  type ToolCallOutcome,
  type ToolCallSpec,
  validateToolInput,
} from "../../lib/tools/index.ts";
import type { GithubApi } from "./github.ts";

export type ToolCallStatus = "succeeded" | "failed" | "timed_out" | "refused";

/** Event objects the lead wires into the event store (shapes match events/tool-call.ts). */
export type ToolRouterEvent =
  | {
      type: "tool_call.started";
      payload: {
        execution_id: string;
        tool_call_id: string;
        step_id: string;
        action_id: string;
        argv: string[];
        binary: string;
        via: "cli" | "api";
        dry_run: boolean;
      };
    }
  | {
      type: "tool_call.output";
      payload: { execution_id: string; tool_call_id: string; seq: number; stream: "stdout" | "stderr"; text: string };
    }
  | {
      type: "tool_call.completed";
      payload: {
        execution_id: string;
        tool_call_id: string;
        step_id: string;
        action_id: string;
        via: "cli" | "api" | null;
        status: ToolCallStatus;
        exit_code: number | null;
        duration_ms: number;
        truncated: boolean;
        stdout_sha256?: string;
        stderr_sha256?: string;
        evidence_id?: string;
        error?: string;
      };
    };

export interface ExecuteToolRequest {
  readonly action_id: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly dry_run?: boolean | undefined;
  readonly tool_call_id?: string | undefined;
  readonly execution_id?: string | undefined;
  readonly step_id?: string | undefined;
  readonly timeout_ms?: number | undefined;
}

export interface ExecuteToolResult {
  readonly tool_call_id: string;
  readonly execution_id: string;
  readonly step_id: string;
  readonly action_id: string;
  readonly status: ToolCallStatus;
  readonly ok: boolean;
  readonly via: "cli" | "api";
  /** The exact argv run (CLI), or the HTTP request made (API). */
  readonly argv: readonly string[];
  readonly binary: string;
  readonly request?: { method: string; url: string } | undefined;
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly duration_ms: number;
  readonly truncated: boolean;
  readonly stdout: { text: string; sha256: string; bytes: number; truncated: boolean };
  readonly stderr: { text: string; sha256: string; bytes: number; truncated: boolean };
  /** Present for dry runs: what the change would do (server dry-run output, helm manifest, argocd diff). */
  readonly dry_run: { diff: string } | null;
  readonly evidence: { evidence_id: string; sha256: string } | null;
}

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
  /** GitHub REST client for the `gh` fallback; null when no token is configured. */
  readonly github?: GithubApi | null | undefined;
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
  /** Lines kept per call for StreamToolLogs, and how many finished calls are remembered. */
  readonly logLinesPerCall?: number | undefined;
  readonly logCallsKept?: number | undefined;
}

export interface ToolDescription extends CatalogAction {
  readonly installed: boolean;
  /** How the router would run it now: the CLI, the API fallback, or not at all. */
  readonly via: "cli" | "api" | null;
}

export interface GetResourceRequest {
  readonly action_id: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly execution_id?: string | undefined;
  readonly step_id?: string | undefined;
}

export interface GetResourceResult {
  readonly action_id: string;
  /** Target attributes read through the catalog's `resource` mapping. */
  readonly resource: Record<string, unknown>;
  /** Live state from the matching read action (parsed JSON), or null when there is none. */
  readonly state: unknown;
  readonly read: { action_id: string; tool_call_id: string; status: ToolCallStatus } | null;
}

export type ToolLogMessage =
  | { type: "output"; seq: number; stream: "stdout" | "stderr"; line: string }
  | { type: "end"; status: ToolCallStatus };

export interface ToolRouter {
  listTools(): Promise<{ tools: ToolDescription[] }>;
  executeTool(request: ExecuteToolRequest, signal?: AbortSignal): Promise<ExecuteToolResult>;
  getResource(request: GetResourceRequest): Promise<GetResourceResult>;
  /** Lines of a call from `fromSeq`, live until it ends; waits up to `waitMs` for a call that has not started yet. */
  streamToolLogs(request: { tool_call_id: string; from_seq?: number; wait_ms?: number }): AsyncIterable<ToolLogMessage>;
}

/** For a write or read action, the read that shows its target's current state, and how to map the input. */
const STATE_READERS: Readonly<
  Record<string, { action: string; map: (i: Readonly<Record<string, unknown>>) => Record<string, unknown> }>
> = {
  kubectl: {
    action: "kubectl.get",
    map: (i) => pick({ kind: i.kind, name: i.name, namespace: i.namespace, context: i.context, output: "json" }),
  },
  helm: {
    action: "helm.status",
    map: (i) => pick({ release: i.release, namespace: i.namespace, kube_context: i.kube_context }),
  },
  argocd: { action: "argocd.app_get", map: (i) => pick({ app: i.app }) },
  vault: { action: "vault.kv_metadata_get", map: (i) => pick({ mount: i.mount, path: i.path }) },
  "aws.ecs": {
    action: "aws.ecs_describe_services",
    map: (i) => pick({ region: i.region, profile: i.profile, cluster: i.cluster, services: i.services ?? [i.service] }),
  },
  "aws.autoscaling": {
    action: "aws.autoscaling_describe_groups",
    map: (i) => pick({ region: i.region, profile: i.profile, group_names: i.group_names ?? [i.group_name] }),
  },
  "gh.pr_view": { action: "gh.pr_view", map: (i) => pick({ repo: i.repo, number: i.number }) },
};

function pick(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function readerFor(action: CatalogAction) {
  return (
    STATE_READERS[action.id] ??
    STATE_READERS[`${action.tool}.${action.action.split("_")[0]}`] ??
    (action.tool === "gh" || action.tool === "boundary" ? undefined : STATE_READERS[action.tool])
  );
}

interface CallLog {
  lines: Array<Extract<ToolLogMessage, { type: "output" }>>;
  dropped: number;
  started: boolean;
  end: ToolCallStatus | null;
  waiters: Set<() => void>;
}

export function createToolRouter(deps: ToolRouterDeps): ToolRouter {
  const newId = deps.newId ?? (() => randomUUID());
  const maxLines = deps.logLinesPerCall ?? 10_000;
  const keepCalls = deps.logCallsKept ?? 200;
  const logs = new Map<string, CallLog>();

  const logFor = (id: string): CallLog => {
    let log = logs.get(id);
    if (!log) {
      log = { lines: [], dropped: 0, started: false, end: null, waiters: new Set() };
      logs.set(id, log);
      // Map keeps insertion order: forget the oldest finished calls first.
      if (logs.size > keepCalls) {
        for (const [key, value] of logs) {
          if (logs.size <= keepCalls) break;
          if (value.end !== null) logs.delete(key);
        }
      }
    }
    return log;
  };
  const wake = (log: CallLog) => {
    for (const w of log.waiters) w();
    log.waiters.clear();
  };
  const emit = async (event: ToolRouterEvent) => {
    await deps.onEvent?.(event);
  };

  async function executeTool(request: ExecuteToolRequest, signal?: AbortSignal): Promise<ExecuteToolResult> {
    const toolCallId = request.tool_call_id ?? newId();
    const executionId = request.execution_id ?? "adhoc";
    const stepId = request.step_id ?? "adhoc";
    const log = logFor(toolCallId);
    log.started = true;
    wake(log);
    const dryRun = request.dry_run === true;
    const action = deps.catalog.get(request.action_id);

    const refuse = async (error: unknown): Promise<never> => {
      const e = toWheelhouseError(error);
      log.end = "refused";
      wake(log);
      await emit({
        type: "tool_call.completed",
        payload: {
          execution_id: executionId,
          tool_call_id: toolCallId,
          step_id: stepId,
          action_id: request.action_id,
          via: null,
          status: "refused",
          exit_code: null,
          duration_ms: 0,
          truncated: false,
          error: e.message,
        },
      });
      throw e;
    };

    try {
      if (!action) {
        throw new ValidationError(`unknown action "${request.action_id}"`, {
          field: "action_id",
          fix: "call ListTools for the catalog's action ids",
        });
      }
      if (dryRun && action.kind === "write" && !action.dry_run) {
        throw new ValidationError(`${action.id} has no dry-run form`, {
          field: "dry_run",
          fix: "run it without dry_run after approval, or plan a read action to preview it",
        });
      }
      validateToolInput(action.id, request.input, { catalog: deps.catalog });
    } catch (error) {
      return refuse(error);
    }

    const cliInstalled = await deps.isInstalled(action.binary);
    const useApi = !cliInstalled && action.tool === "gh" && deps.github != null;
    if (!cliInstalled && !useApi) {
      return refuse(
        new UnavailableError(`${action.binary} is not installed on the tool router's PATH`, {
          field: "action_id",
          fix:
            action.tool === "gh"
              ? "install gh, or configure connectors.github.token for the REST API fallback"
              : `install ${action.binary} where the tool router runs`,
        }),
      );
    }

    const onLine = (line: OutputLine) => {
      if (log.lines.length >= maxLines) {
        log.lines.shift();
        log.dropped++;
      }
      log.lines.push({ type: "output", seq: line.seq, stream: line.stream, line: line.line });
      wake(log);
      void emit({
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

    let outcome: Omit<ToolCallOutcome, "via"> & { via: "cli" | "api"; request?: { method: string; url: string } };
    let via: "cli" | "api";
    try {
      if (useApi) {
        via = "api";
        const github = deps.github as GithubApi;
        const planned = github.describe(action.action, request.input);
        await emit({
          type: "tool_call.started",
          payload: {
            execution_id: executionId,
            tool_call_id: toolCallId,
            step_id: stepId,
            action_id: action.id,
            argv: [planned.method, planned.url],
            binary: planned.url,
            via,
            dry_run: dryRun,
          },
        });
        outcome = { ...(await github.run(action.action, request.input, { onLine, signal })), tool_call_id: toolCallId };
      } else {
        via = "cli";
        outcome = await deps.runInSandbox(
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
              void emit({
                type: "tool_call.started",
                payload: {
                  execution_id: executionId,
                  tool_call_id: toolCallId,
                  step_id: stepId,
                  action_id: action.id,
                  argv: [...argv],
                  binary,
                  via: "cli",
                  dry_run: dryRun,
                },
              });
            },
            onLine,
            ...(signal ? { signal } : {}),
          },
        );
      }
    } catch (error) {
      return refuse(error);
    }

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
      evidence = await deps.storeEvidence(request.dry_run ? "diff" : "tool_output", new TextEncoder().encode(blob), {
        execution_id: executionId,
        tool_call_id: toolCallId,
      });
    }
    log.end = status;
    wake(log);
    await emit({
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
      argv: outcome.argv,
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

  return {
    async listTools() {
      const installed = new Map<string, boolean>();
      for (const action of deps.catalog.actions()) {
        if (!installed.has(action.binary)) installed.set(action.binary, await deps.isInstalled(action.binary));
      }
      return {
        tools: deps.catalog.actions().map((action) => {
          const cli = installed.get(action.binary) === true;
          const via = cli ? "cli" : action.tool === "gh" && deps.github != null ? "api" : null;
          return { ...action, installed: cli, via };
        }),
      };
    },

    executeTool,

    async getResource(request) {
      const action = deps.catalog.get(request.action_id);
      if (!action) {
        throw new ValidationError(`unknown action "${request.action_id}"`, {
          field: "action_id",
          fix: "call ListTools for the catalog's action ids",
        });
      }
      const resource = deps.catalog.resourceOf(action.id, request.input) ?? {};
      const reader = readerFor(action);
      if (!reader) return { action_id: action.id, resource, state: null, read: null };
      const result = await executeTool({
        action_id: reader.action,
        input: reader.map(request.input),
        execution_id: request.execution_id,
        step_id: request.step_id,
      });
      let state: unknown = null;
      if (result.ok) {
        try {
          state = JSON.parse(result.stdout.text);
        } catch {
          state = result.stdout.text;
        }
      }
      return {
        action_id: action.id,
        resource,
        state,
        read: { action_id: reader.action, tool_call_id: result.tool_call_id, status: result.status },
      };
    },

    async *streamToolLogs({ tool_call_id, from_seq = 0, wait_ms = 30_000 }) {
      const log = logFor(tool_call_id);
      let next = from_seq;
      const deadline = Date.now() + wait_ms;
      for (;;) {
        for (const line of log.lines) {
          if (line.seq >= next) {
            next = line.seq + 1;
            yield line;
          }
        }
        if (log.end !== null) {
          yield { type: "end", status: log.end };
          return;
        }
        const quiet = !log.started;
        const remaining = deadline - Date.now();
        if (quiet && remaining <= 0) {
          throw new UnavailableError(`no tool call ${tool_call_id} started within ${wait_ms} ms`, {
            field: "tool_call_id",
            fix: "start the call with ExecuteTool, or check the id",
          });
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, quiet ? remaining : 60_000);
          log.waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

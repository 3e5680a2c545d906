/**
 * The orchestrator's client for the tool router's RPC over HTTP
 * (`POST /rpc/ExecuteTool`, `POST /rpc/GetResource`). The tool router records
 * `tool_call.*` events and evidence itself; this client only carries the call
 * and the capability that authorises it (`Wheelhouse-Capability` header,
 * minted by the activity after its checks).
 *
 * Errors: a problem+json answer becomes a `WheelhouseError` with the router's
 * code, status, field and fix (4xx = the call was refused, retrying will not
 * help); an unreachable router or a 5xx becomes `UnavailableError`.
 */
import { RelayedError, UnavailableError } from "../../lib/errors/index.ts";
import { CAPABILITY_HEADER } from "../../lib/tools/index.ts";
import type {
  ExecuteToolRequest,
  ExecuteToolResult,
  GetResourceRequest,
  GetResourceResult,
} from "../../schemas/rpc/tool-router.ts";

export interface ToolCallOptions {
  /** The capability minted for exactly this call (purpose `execute` for ExecuteTool, `read` for GetResource). */
  readonly capability: string;
  readonly signal?: AbortSignal | undefined;
}

export interface ToolClient {
  executeTool(request: ExecuteToolRequest, options: ToolCallOptions): Promise<ExecuteToolResult>;
  getResource(request: GetResourceRequest, options: ToolCallOptions): Promise<GetResourceResult>;
}

export interface ToolClientDeps {
  /** Base URL of the tool router, e.g. `http://127.0.0.1:8324`. */
  readonly url: string;
  /** Bearer token when the router requires one (`tools.router_token`). */
  readonly token?: string | null | undefined;
  readonly fetch?: typeof fetch | undefined;
}

export function createToolClient(deps: ToolClientDeps): ToolClient {
  const base = deps.url.replace(/\/+$/, "");
  const doFetch = deps.fetch ?? fetch;

  async function call<T>(method: string, body: unknown, { capability, signal }: ToolCallOptions): Promise<T> {
    let response: Response;
    try {
      response = await doFetch(`${base}/rpc/${method}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [CAPABILITY_HEADER]: capability,
          ...(deps.token ? { authorization: `Bearer ${deps.token}` } : {}),
        },
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      });
    } catch (cause) {
      // The caller's own cancellation is not the router's fault: let it through as is.
      if (signal?.aborted) throw cause;
      throw new UnavailableError(`the tool router at ${base} did not answer ${method}: ${(cause as Error).message}`, {
        cause,
        field: "orchestrator.tool_router_url",
        fix: "start the tool router, or point orchestrator.tool_router_url at it",
      });
    }
    const text = await response.text();
    if (response.ok) return JSON.parse(text) as T;
    let problem: { code?: string; detail?: string; field?: string; fix?: string } = {};
    try {
      problem = JSON.parse(text) as typeof problem;
    } catch {
      // Not problem+json (a proxy in between?): the status and the body's start say enough.
    }
    const message = problem.detail ?? `${method} answered ${response.status}: ${text.slice(0, 200)}`;
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      throw new UnavailableError(`tool router ${method}: ${message}`, {
        field: problem.field,
        fix: problem.fix ?? "retry later",
        extra: { status: response.status, code: problem.code },
      });
    }
    throw new RelayedError(problem.code ?? "tool_call_refused", response.status, message, {
      field: problem.field,
      fix: problem.fix,
    });
  }

  return {
    executeTool: (request, options) => call<ExecuteToolResult>("ExecuteTool", request, options),
    getResource: (request, options) => call<GetResourceResult>("GetResource", request, options),
  };
}

/**
 * The `gh` fallback: GitHub pull requests over the REST API, used only when
 * the gh CLI is not installed. Outputs look like gh's (`pr create` prints the
 * PR URL, `pr view --json` prints the same fields), so callers cannot tell
 * the difference except by `via: "api"` in the result.
 */
import { UnavailableError, ValidationError } from "../../lib/errors/index.ts";
import { createSecretScrubber } from "../../lib/redact/index.ts";
import { type ApiOutcome, type ApiRequest, callApi, type ToolApi } from "./tool-api.ts";

export interface GithubApiDeps {
  /** e.g. https://api.github.com (config `connectors.github.api_base`). */
  readonly apiBase: string;
  readonly token: string;
  readonly fetch?: typeof fetch | undefined;
  readonly timeoutMs?: number | undefined;
}

export type GithubApi = ToolApi;

export function createGithubApi(deps: GithubApiDeps): GithubApi {
  const doFetch = deps.fetch ?? fetch;
  const base = deps.apiBase.replace(/\/+$/, "");
  const redact = createSecretScrubber([deps.token]);

  const describe = (action: string, input: Readonly<Record<string, unknown>>): ApiRequest => {
    const repo = String(input.repo);
    if (action === "pr_create") return { method: "POST", url: `${base}/repos/${repo}/pulls` };
    if (action === "pr_view") return { method: "GET", url: `${base}/repos/${repo}/pulls/${Number(input.number)}` };
    throw new ValidationError(`gh.${action} has no API fallback`, {
      field: "action_id",
      fix: "install the gh CLI where the tool router runs",
    });
  };

  return {
    describe,
    async run(action, input, hooks): Promise<ApiOutcome> {
      const request = describe(action, input);
      return callApi(`gh.${action}`, request, hooks, async () => {
        const body =
          action === "pr_create"
            ? JSON.stringify({
                title: input.title,
                head: input.head,
                base: input.base,
                body: input.body ?? "",
                draft: input.draft === true,
              })
            : undefined;
        const timeout = AbortSignal.timeout(deps.timeoutMs ?? 30_000);
        let response: Response;
        try {
          response = await doFetch(request.url, {
            method: request.method,
            headers: {
              accept: "application/vnd.github+json",
              authorization: `Bearer ${deps.token}`,
              "x-github-api-version": "2022-11-28",
              "user-agent": "wheelhouse-tool-router",
              ...(body ? { "content-type": "application/json" } : {}),
            },
            ...(body ? { body } : {}),
            signal: hooks.signal ? AbortSignal.any([hooks.signal, timeout]) : timeout,
          });
        } catch (cause) {
          throw new UnavailableError(
            `GitHub API ${request.method} ${request.url} failed: ${(cause as Error).message}`,
            {
              field: "connectors.github.api_base",
              fix: "check the GitHub API address and the network",
              cause,
            },
          );
        }
        const text = await response.text();
        let stdout = "";
        let stderr = "";
        if (response.ok) {
          const pr = JSON.parse(text) as Record<string, unknown>;
          stdout =
            action === "pr_create"
              ? String(pr.html_url)
              : JSON.stringify({
                  number: pr.number,
                  title: pr.title,
                  state: pr.merged_at ? "MERGED" : String(pr.state).toUpperCase(),
                  url: pr.html_url,
                  isDraft: pr.draft === true,
                  headRefName: (pr.head as { ref?: string } | undefined)?.ref,
                  baseRefName: (pr.base as { ref?: string } | undefined)?.ref,
                });
        } else {
          let message = text;
          try {
            message = String((JSON.parse(text) as { message?: unknown }).message ?? text);
          } catch {
            // not JSON: keep the body as it is
          }
          stderr = `HTTP ${response.status}: ${message}`;
        }
        return { stdout: redact(stdout), stderr: redact(stderr), ok: response.ok };
      });
    },
  };
}

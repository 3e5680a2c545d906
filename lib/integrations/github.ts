/**
 * GitHub's pull requests REST API (`connectors.github`): open one
 * (`POST /repos/{owner}/{repo}/pulls` with title, head, base, body; 201 with
 * the pull request) and find the ones whose head is a branch
 * (`GET /repos/{owner}/{repo}/pulls?head=owner:branch&state=all`), which is
 * how a retried caller finds the pull request an earlier attempt opened.
 * Plain `fetch` with GitHub's documented headers: the `gh` CLI cannot be
 * pointed at a plain-HTTP server, which is what tests run against.
 */
import { ValidationError } from "../errors/index.ts";
import { type ProviderClient, requestJson } from "./http.ts";

export interface GithubSettings {
  /** e.g. https://api.github.com (`connectors.github.api_base`). */
  readonly apiBase: string;
  readonly token: string;
  readonly timeoutMs?: number | undefined;
  readonly fetch?: typeof fetch | undefined;
}

/** A pull request as the API answers it (the fields read here). */
export interface PullRequest {
  readonly number: number;
  readonly html_url: string;
  readonly state: string;
  readonly body: string | null;
  readonly head: { readonly ref: string };
  readonly base: { readonly ref: string };
}

export interface NewPullRequest {
  /** `owner/name`. */
  readonly repo: string;
  readonly head: string;
  readonly base: string;
  readonly title: string;
  readonly body: string;
}

export interface GithubPulls {
  create(pull: NewPullRequest): Promise<PullRequest>;
  /** Pull requests (open or closed) whose head is `branch` of the repository itself, newest first. */
  findByHead(repo: string, branch: string): Promise<PullRequest[]>;
}

/** `owner/name` split, or a ValidationError naming the expected form. */
export function splitRepo(repo: string): { owner: string; name: string } {
  const match = /^([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+)$/.exec(repo);
  if (!match || match[2] === "." || match[2] === "..") {
    throw new ValidationError(`repository "${repo}" is not owner/name`, {
      field: "repo",
      fix: "name the repository as owner/name, e.g. acme/deploys",
    });
  }
  return { owner: match[1] as string, name: match[2] as string };
}

export function createGithubPulls(settings: GithubSettings): GithubPulls {
  const base = settings.apiBase.replace(/\/+$/, "");
  const client: ProviderClient = {
    provider: "GitHub",
    configPath: "connectors.github",
    secrets: [settings.token],
    timeoutMs: settings.timeoutMs ?? 30_000,
    fetch: settings.fetch,
  };
  const headers = {
    accept: "application/vnd.github+json",
    authorization: `Bearer ${settings.token}`,
    "x-github-api-version": "2022-11-28",
    "user-agent": "wheelhouse-orchestrator",
  };
  const pullsUrl = (repo: string) => {
    const { owner, name } = splitRepo(repo);
    return `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/pulls`;
  };
  return {
    async create(pull) {
      const { body } = await requestJson(client, {
        method: "POST",
        url: pullsUrl(pull.repo),
        headers,
        body: { title: pull.title, head: pull.head, base: pull.base, body: pull.body },
      });
      return body as PullRequest;
    },
    async findByHead(repo, branch) {
      const { owner } = splitRepo(repo);
      const query = new URLSearchParams({ head: `${owner}:${branch}`, state: "all", per_page: "10" });
      const { body } = await requestJson(client, { method: "GET", url: `${pullsUrl(repo)}?${query}`, headers });
      return Array.isArray(body) ? (body as PullRequest[]) : [];
    },
  };
}

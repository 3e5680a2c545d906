/** GitLab webhooks: a secret token header; pushes in detail, other hooks by kind. */
import { GitLabAnySchema, GitLabPushSchema } from "../../../schemas/api/index.ts";
import { type ApiRequest, parseInput } from "../api.ts";
import type { WebhookSecrets } from "../deps.ts";
import { compact, repoName, requireSecret, type Signal, safeEqual, unauthenticated } from "./common.ts";

export function verifyGitLab(request: ApiRequest, secrets: WebhookSecrets): void {
  const secret = requireSecret(secrets.gitlabToken, "GitLab", "gateway.webhooks.gitlab_token");
  const sent = request.headers["x-gitlab-token"];
  if (sent === undefined || !safeEqual(sent, secret)) {
    throw unauthenticated("GitLab", "X-Gitlab-Token", "set the webhook's secret token in GitLab");
  }
}

export function normalizeGitLab(request: ApiRequest, rawSha: string): Signal[] {
  const eventName = request.headers["x-gitlab-event"] ?? "";
  const uuid = request.headers["x-gitlab-event-uuid"] ?? request.headers["idempotency-key"] ?? rawSha;
  const dedupe = `gitlab:${uuid}`;
  if (eventName === "Push Hook") {
    const p = parseInput(GitLabPushSchema, request.body, "body");
    return [
      compact({
        source: "gitlab" as const,
        kind: "git.push",
        dedupe_key: dedupe,
        summary: `${p.user_username ?? "someone"} pushed ${p.total_commits_count ?? p.commits?.length ?? 0} commit(s) to ${p.project.path_with_namespace} ${p.ref}`,
        service: repoName(p.project.path_with_namespace),
        details: compact({
          event_uuid: uuid,
          project: p.project.path_with_namespace,
          ref: p.ref,
          before: p.before,
          after: p.after,
          checkout_sha: p.checkout_sha ?? undefined,
        }),
        raw_sha256: rawSha,
      }),
    ];
  }
  const p = parseInput(GitLabAnySchema, request.body, "body");
  return [
    {
      source: "gitlab",
      kind: `git.${p.object_kind}`,
      dedupe_key: dedupe,
      summary: `GitLab ${eventName || p.object_kind}`,
      details: { event_uuid: uuid },
      raw_sha256: rawSha,
    },
  ];
}

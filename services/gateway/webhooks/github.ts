/** GitHub deliveries: HMAC-signed bodies; pushes, pull requests and any other event by its identity. */
import { createHmac, timingSafeEqual } from "node:crypto";
import { ValidationError } from "../../../lib/errors/index.ts";
import { GitHubPullRequestSchema, GitHubPushSchema } from "../../../schemas/api/index.ts";
import { type ApiRequest, parseInput } from "../api.ts";
import type { WebhookSecrets } from "../deps.ts";
import { compact, repoName, requireSecret, type Signal, unauthenticated } from "./common.ts";

/** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. */
export function verifyGitHub(request: ApiRequest, secrets: WebhookSecrets): void {
  const secret = requireSecret(secrets.githubSecret, "GitHub", "gateway.webhooks.github_secret");
  const sent = request.headers["x-hub-signature-256"];
  const fix = "set the webhook's secret in GitHub to the value of gateway.webhooks.github_secret";
  if (sent === undefined || !/^sha256=[0-9a-f]{64}$/.test(sent) || request.rawBody === undefined) {
    throw unauthenticated("GitHub", "X-Hub-Signature-256", fix);
  }
  const expected = createHmac("sha256", secret).update(request.rawBody).digest();
  const given = Buffer.from(sent.slice(7), "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw unauthenticated("GitHub", "X-Hub-Signature-256", fix);
  }
}

/** A scalar field of a JSON object as text; "" when it is absent or not a scalar. */
function scalar(object: unknown, key: string): string {
  if (object === null || typeof object !== "object") return "";
  const value = (object as Record<string, unknown>)[key];
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : "";
}

/**
 * What makes a GitHub event itself, whichever delivery carried it: the same
 * body sent again under a new `X-GitHub-Delivery` (a replay, a redelivery)
 * has the same identity and so makes no second signal. A push is its ref
 * moving from `before` to `after`; a pull request event its action on a head
 * commit at an update time; a run or check (`workflow_run`, `check_run`, …) its
 * id, attempt and state. Anything else is identified by its exact body.
 */
export function gitHubIdentity(event: string, body: unknown, rawSha: string): string {
  const b = body as Record<string, unknown>;
  const repo = scalar(b.repository, "id") || scalar(b.repository, "full_name");
  if (event === "push") return ["push", repo, scalar(b, "ref"), scalar(b, "before"), scalar(b, "after")].join(":");
  if (event === "pull_request") {
    const pr = b.pull_request as Record<string, unknown> | undefined;
    const head = scalar(pr?.head, "sha");
    return ["pull_request", repo, scalar(b, "number"), scalar(b, "action"), head, scalar(pr, "updated_at")].join(":");
  }
  const subject = b[event];
  if (repo !== "" && scalar(subject, "id") !== "") {
    return [
      event,
      repo,
      scalar(b, "action"),
      scalar(subject, "id"),
      scalar(subject, "run_attempt"),
      scalar(subject, "status"),
      scalar(subject, "conclusion"),
      scalar(subject, "updated_at") || scalar(subject, "completed_at"),
    ].join(":");
  }
  return `${event}:body:${rawSha}`;
}

export function normalizeGitHub(request: ApiRequest, rawSha: string): Signal[] | "ignored" {
  const event = request.headers["x-github-event"] ?? "";
  const delivery = request.headers["x-github-delivery"];
  if (!delivery) {
    throw new ValidationError("the GitHub delivery id is missing", {
      field: "X-GitHub-Delivery",
      fix: "send the headers GitHub sends with every delivery",
    });
  }
  const dedupe = `github:${gitHubIdentity(event, request.body, rawSha)}`;
  switch (event) {
    case "ping":
      return "ignored";
    case "push": {
      const p = parseInput(GitHubPushSchema, request.body, "body");
      return [
        compact({
          source: "github" as const,
          kind: "git.push",
          dedupe_key: dedupe,
          summary: `${p.pusher?.name ?? p.sender?.login ?? "someone"} pushed ${p.commits?.length ?? 0} commit(s) to ${p.repository.full_name} ${p.ref}`,
          service: repoName(p.repository.full_name),
          details: compact({
            delivery,
            repository: p.repository.full_name,
            ref: p.ref,
            before: p.before,
            after: p.after,
            head_commit: p.head_commit?.id,
            head_message: p.head_commit?.message,
            compare: p.compare,
          }),
          raw_sha256: rawSha,
        }),
      ];
    }
    case "pull_request": {
      const p = parseInput(GitHubPullRequestSchema, request.body, "body");
      const pr = p.pull_request;
      return [
        compact({
          source: "github" as const,
          kind: `git.pull_request.${p.action}`,
          dedupe_key: dedupe,
          summary: `PR #${p.number} ${p.action}: ${pr.title} (${p.repository.full_name})`,
          service: repoName(p.repository.full_name),
          details: compact({
            delivery,
            repository: p.repository.full_name,
            number: p.number,
            action: p.action,
            url: pr.html_url,
            head_ref: pr.head.ref,
            head_sha: pr.head.sha,
            base_ref: pr.base.ref,
            merged: pr.merged ?? undefined,
            author: pr.user?.login,
          }),
          raw_sha256: rawSha,
        }),
      ];
    }
    default:
      if (!/^[a-z_]{1,64}$/.test(event)) {
        throw new ValidationError("the GitHub event name is missing", {
          field: "X-GitHub-Event",
          fix: "send the headers GitHub sends with every delivery",
        });
      }
      return [
        {
          source: "github",
          kind: `git.${event}`,
          dedupe_key: dedupe,
          summary: `GitHub ${event} event`,
          details: { delivery },
          raw_sha256: rawSha,
        },
      ];
  }
}

/**
 * Webhooks: each request is authenticated with the provider's own mechanism
 * before anything is read into an event, normalized into `signal.received`,
 * redacted (labels, annotations, messages, every string of the signal: an
 * appended event can never be taken back), and deduplicated. A signal's id is
 * derived from its dedupe key and appended with `expectedVersion: "none"`, so a
 * redelivery (Alertmanager's repeat_interval, GitHub's redeliver button, the
 * same GitHub body under a new delivery id) is recognised however late it
 * comes, and the `Nats-Msg-Id` covers concurrent retries inside the window.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type * as v from "valibot";
import { newEvent, type SignalReceivedSchema, SYSTEM_ACTOR } from "../../events/index.ts";
import { ConflictError, UnauthenticatedError, ValidationError } from "../../lib/errors/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createRedactor } from "../../lib/redact/index.ts";
import {
  AlertmanagerWebhookSchema,
  ArgoCdNotificationSchema,
  GitHubPullRequestSchema,
  GitHubPushSchema,
  GitLabAnySchema,
  GitLabPushSchema,
} from "../../schemas/api/index.ts";
import { type ApiRequest, type ApiResponse, parseInput } from "./api.ts";
import type { WebhookSecrets } from "./deps.ts";

type Signal = Omit<v.InferInput<typeof SignalReceivedSchema>, "signal_id">;

export interface WebhookDeps {
  readonly store: EventStore;
  readonly secrets: WebhookSecrets;
  readonly now: () => Date;
  /** Counts accepted and duplicate signals per source (metrics). */
  readonly onSignal?: ((source: string, duplicate: boolean) => void) | undefined;
  /** `llm.redact_patterns`: extra secret patterns, added to the built-in detectors. */
  readonly redactPatterns?: readonly string[] | undefined;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** Constant-time string comparison; hashing first makes the lengths equal and leaks nothing about them. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

function unauthenticated(source: string, header: string, fix: string): UnauthenticatedError {
  return new UnauthenticatedError(`the ${source} webhook credentials are missing or wrong`, { field: header, fix });
}

function requireSecret(secret: string | null, source: string, setting: string): string {
  if (secret === null) {
    // Not configured means closed: an unauthenticated webhook would let anyone raise signals.
    throw new UnauthenticatedError(`the ${source} webhook is not configured on this gateway`, {
      field: setting,
      fix: `set ${setting} to a secret reference (env:NAME or file:/path) and restart the gateway`,
    });
  }
  return secret;
}

/** Alertmanager `http_config`: `authorization: {credentials}` (Bearer) or `basic_auth` (the password is checked). */
export function verifyAlertmanager(request: ApiRequest, secrets: WebhookSecrets): void {
  const token = requireSecret(secrets.alertmanagerToken, "Alertmanager", "gateway.webhooks.alertmanager_token");
  const header = request.headers.authorization ?? "";
  const fix = "configure the receiver's http_config.authorization.credentials with the shared token";
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1];
  if (bearer !== undefined) {
    if (safeEqual(bearer.trim(), token)) return;
    throw unauthenticated("Alertmanager", "Authorization", fix);
  }
  const basic = /^Basic\s+(.+)$/i.exec(header)?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic.trim(), "base64").toString("utf8");
    const password = decoded.slice(decoded.indexOf(":") + 1);
    const expected = secrets.alertmanagerBasic ?? null;
    if (expected !== null ? safeEqual(decoded, expected) : safeEqual(password, token)) return;
  }
  throw unauthenticated("Alertmanager", "Authorization", fix);
}

export function verifyArgoCd(request: ApiRequest, secrets: WebhookSecrets): void {
  const secret = requireSecret(secrets.argocdSecret, "Argo CD", "gateway.webhooks.argocd_secret");
  const sent = request.headers["x-wheelhouse-token"];
  if (sent === undefined || !safeEqual(sent, secret)) {
    throw unauthenticated(
      "Argo CD",
      "X-Wheelhouse-Token",
      "add the header X-Wheelhouse-Token: $wheelhouse-webhook-secret to the Argo CD webhook service",
    );
  }
}

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

export function verifyGitLab(request: ApiRequest, secrets: WebhookSecrets): void {
  const secret = requireSecret(secrets.gitlabToken, "GitLab", "gateway.webhooks.gitlab_token");
  const sent = request.headers["x-gitlab-token"];
  if (sent === undefined || !safeEqual(sent, secret)) {
    throw unauthenticated("GitLab", "X-Gitlab-Token", "set the webhook's secret token in GitLab");
  }
}

function pick(labels: Record<string, string>, ...names: string[]): string | undefined {
  for (const n of names) if (labels[n]) return labels[n];
  return undefined;
}

function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
}

export function normalizeAlertmanager(body: unknown, rawSha: string): Signal[] {
  const payload = parseInput(AlertmanagerWebhookSchema, body, "body");
  return payload.alerts.map((alert) => {
    const labels = { ...payload.commonLabels, ...alert.labels };
    const annotations = { ...payload.commonAnnotations, ...alert.annotations };
    const name = labels.alertname ?? "alert";
    // startsAt is in the key so that an alert which resolves and later fires
    // again is a new signal, while Alertmanager's repeats of the same firing are not.
    const dedupe = `alertmanager:${payload.groupKey}:${alert.fingerprint}:${alert.status}:${alert.startsAt}`;
    return compact({
      source: "alertmanager" as const,
      kind: `alert.${alert.status}`,
      status: alert.status,
      dedupe_key: dedupe,
      summary: annotations.summary ?? annotations.description ?? `${name} is ${alert.status}`,
      service: pick(labels, "service", "app", "app_kubernetes_io_name", "job"),
      environment: pick(labels, "environment", "env"),
      labels,
      annotations,
      details: compact({
        alertname: name,
        fingerprint: alert.fingerprint,
        group_key: payload.groupKey,
        receiver: payload.receiver,
        starts_at: alert.startsAt,
        ends_at: alert.endsAt,
        generator_url: alert.generatorURL,
        external_url: payload.externalURL,
      }),
      raw_sha256: rawSha,
    });
  });
}

export function normalizeArgoCd(body: unknown, rawSha: string): Signal[] {
  const n = parseInput(ArgoCdNotificationSchema, body, "body");
  const labels = n.labels ?? {};
  const stamp = n.operation_started_at ?? n.revision ?? rawSha;
  return [
    compact({
      source: "argocd" as const,
      kind: `deploy.${n.event}`,
      dedupe_key: `argocd:${n.app}:${n.event}:${stamp}`,
      summary: n.message ?? `Argo CD application ${n.app}: ${n.event}`,
      service: labels.service ?? n.app,
      environment: labels.environment ?? labels.env,
      labels,
      details: compact({
        app: n.app,
        project: n.project,
        namespace: n.namespace ?? n.destination?.namespace,
        destination_server: n.destination?.server,
        revision: n.revision,
        sync_status: n.sync_status,
        health_status: n.health_status,
        operation_phase: n.operation_phase,
        repo_url: n.repo_url,
      }),
      raw_sha256: rawSha,
    }),
  ];
}

function repoName(fullName: string): string {
  return fullName.split("/").pop() ?? fullName;
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

export function createWebhookHandlers(deps: WebhookDeps) {
  async function record(request: ApiRequest, normalized: readonly Signal[]): Promise<ApiResponse> {
    const now = deps.now();
    // Every string of the signal is untrusted text (an annotation, a commit message, a label):
    // redacted before the dedupe key is hashed, so no secret reaches the stream, not even as a hash.
    const redactor = createRedactor(deps.redactPatterns ?? []);
    const signals = normalized.map((signal) => redactor.redactValue(signal));
    const results = await Promise.all(
      signals.map(async (signal) => {
        const key = sha256(signal.dedupe_key);
        const signalId = `sig-${key.slice(0, 32)}`;
        const event = newEvent(
          "signal.received",
          signalId,
          { ...signal, signal_id: signalId },
          {
            actor: { ...SYSTEM_ACTOR, kind: "service", id: `webhook:${signal.source}` },
            correlation_id: request.requestId,
            occurred_at: now.toISOString(),
          },
        );
        try {
          const r = await deps.store.append([event], { expectedVersion: "none", idempotencyKey: `sig-${key}` });
          deps.onSignal?.(signal.source, r.duplicate);
          return { signal_id: signalId, dedupe_key: signal.dedupe_key, duplicate: r.duplicate, seq: r.version };
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
          deps.onSignal?.(signal.source, true);
          const current = Number(error.extra?.current_version ?? 0);
          return { signal_id: signalId, dedupe_key: signal.dedupe_key, duplicate: true, seq: current };
        }
      }),
    );
    const duplicates = results.filter((r) => r.duplicate).length;
    return { status: 202, body: { signals: results, accepted: results.length - duplicates, duplicates } };
  }

  const rawSha = (request: ApiRequest) => sha256(request.rawBody ?? JSON.stringify(request.body ?? null));

  return {
    async alertmanager(request: ApiRequest): Promise<ApiResponse> {
      verifyAlertmanager(request, deps.secrets);
      return record(request, normalizeAlertmanager(request.body, rawSha(request)));
    },
    async argocd(request: ApiRequest): Promise<ApiResponse> {
      verifyArgoCd(request, deps.secrets);
      return record(request, normalizeArgoCd(request.body, rawSha(request)));
    },
    async git(request: ApiRequest): Promise<ApiResponse> {
      if (request.headers["x-github-event"] !== undefined) {
        verifyGitHub(request, deps.secrets);
        const signals = normalizeGitHub(request, rawSha(request));
        if (signals === "ignored") return { status: 200, body: { signals: [], accepted: 0, duplicates: 0 } };
        return record(request, signals);
      }
      if (request.headers["x-gitlab-event"] !== undefined || request.headers["x-gitlab-token"] !== undefined) {
        verifyGitLab(request, deps.secrets);
        return record(request, normalizeGitLab(request, rawSha(request)));
      }
      throw new UnauthenticatedError("this is neither a GitHub nor a GitLab delivery", {
        field: "X-GitHub-Event",
        fix: "point a GitHub webhook (with a secret) or a GitLab webhook (with a secret token) at /v1/hooks/git",
      });
    },
  };
}

/** Exposed for tests: the signal id a dedupe key maps to. */
export function signalIdFor(dedupeKey: string): string {
  return `sig-${sha256(dedupeKey).slice(0, 32)}`;
}

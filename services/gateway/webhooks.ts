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
import { createHash } from "node:crypto";
import { newEvent, SYSTEM_ACTOR } from "../../events/index.ts";
import { ConflictError, UnauthenticatedError } from "../../lib/errors/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createRedactor } from "../../lib/redact/index.ts";
import type { ApiRequest, ApiResponse } from "./api.ts";
import type { WebhookSecrets } from "./deps.ts";
import { normalizeAlertmanager, verifyAlertmanager } from "./webhooks/alertmanager.ts";
import { normalizeArgoCd, verifyArgoCd } from "./webhooks/argocd.ts";
import type { Signal } from "./webhooks/common.ts";
import { normalizeGitHub, verifyGitHub } from "./webhooks/github.ts";
import { normalizeGitLab, verifyGitLab } from "./webhooks/gitlab.ts";

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

/** Redacts, derives each signal's id from its dedupe key, and appends it once: a redelivery is a duplicate. */
async function record(deps: WebhookDeps, request: ApiRequest, normalized: readonly Signal[]): Promise<ApiResponse> {
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

/** The webhook endpoints: authenticate with the provider's mechanism, normalize, record. */
export function createWebhookHandlers(deps: WebhookDeps) {
  return {
    async alertmanager(request: ApiRequest): Promise<ApiResponse> {
      verifyAlertmanager(request, deps.secrets);
      return record(deps, request, normalizeAlertmanager(request.body, rawSha(request)));
    },
    async argocd(request: ApiRequest): Promise<ApiResponse> {
      verifyArgoCd(request, deps.secrets);
      return record(deps, request, normalizeArgoCd(request.body, rawSha(request)));
    },
    async git(request: ApiRequest): Promise<ApiResponse> {
      if (request.headers["x-github-event"] !== undefined) {
        verifyGitHub(request, deps.secrets);
        const signals = normalizeGitHub(request, rawSha(request));
        if (signals === "ignored") return { status: 200, body: { signals: [], accepted: 0, duplicates: 0 } };
        return record(deps, request, signals);
      }
      if (request.headers["x-gitlab-event"] !== undefined || request.headers["x-gitlab-token"] !== undefined) {
        verifyGitLab(request, deps.secrets);
        return record(deps, request, normalizeGitLab(request, rawSha(request)));
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

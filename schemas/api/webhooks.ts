/**
 * Webhook payloads as the providers send them. These are loose objects on
 * purpose: providers add fields over time, and a new field must not make us
 * drop an alert. What we read is validated; the rest is ignored.
 */
import * as v from "valibot";

const labels = v.record(v.string(), v.string());

/** Alertmanager webhook payload, version 4 (alertmanager `webhook_config`). */
export const AlertmanagerAlertSchema = v.looseObject({
  status: v.picklist(["firing", "resolved"]),
  labels,
  annotations: v.optional(labels, {}),
  startsAt: v.string(),
  endsAt: v.optional(v.string()),
  generatorURL: v.optional(v.string()),
  fingerprint: v.pipe(v.string(), v.minLength(1)),
});

export const AlertmanagerWebhookSchema = v.looseObject({
  version: v.literal("4", 'Wheelhouse reads Alertmanager webhook payload version "4"'),
  groupKey: v.string(),
  truncatedAlerts: v.optional(v.number(), 0),
  status: v.picklist(["firing", "resolved"]),
  receiver: v.string(),
  groupLabels: v.optional(labels, {}),
  commonLabels: v.optional(labels, {}),
  commonAnnotations: v.optional(labels, {}),
  externalURL: v.optional(v.string()),
  alerts: v.pipe(v.array(AlertmanagerAlertSchema), v.maxLength(1000)),
});
export type AlertmanagerWebhook = v.InferOutput<typeof AlertmanagerWebhookSchema>;

/**
 * The body of the Argo CD notifications template Wheelhouse documents
 * (test/fixtures/webhooks/argocd/notifications-cm.yaml): Argo CD's webhook
 * service sends whatever JSON a template renders, so this is our contract.
 */
export const ArgoCdNotificationSchema = v.looseObject({
  event: v.pipe(v.string(), v.minLength(1)),
  app: v.pipe(v.string(), v.minLength(1)),
  project: v.optional(v.string()),
  namespace: v.optional(v.string()),
  destination: v.optional(v.looseObject({ server: v.optional(v.string()), namespace: v.optional(v.string()) })),
  revision: v.optional(v.string()),
  sync_status: v.optional(v.string()),
  health_status: v.optional(v.string()),
  operation_phase: v.optional(v.string()),
  operation_started_at: v.optional(v.string()),
  message: v.optional(v.string()),
  repo_url: v.optional(v.string()),
  labels: v.optional(v.record(v.string(), v.string())),
});
export type ArgoCdNotification = v.InferOutput<typeof ArgoCdNotificationSchema>;

const gitHubRepository = v.looseObject({
  full_name: v.string(),
  html_url: v.optional(v.string()),
  default_branch: v.optional(v.string()),
});

/** GitHub `push` event. */
export const GitHubPushSchema = v.looseObject({
  ref: v.string(),
  before: v.string(),
  after: v.string(),
  repository: gitHubRepository,
  pusher: v.optional(v.looseObject({ name: v.optional(v.string()), email: v.optional(v.nullable(v.string())) })),
  sender: v.optional(v.looseObject({ login: v.string() })),
  head_commit: v.optional(
    v.nullable(v.looseObject({ id: v.string(), message: v.string(), url: v.optional(v.string()) })),
  ),
  commits: v.optional(v.array(v.looseObject({ id: v.string() })), []),
  compare: v.optional(v.string()),
});

/** GitHub `pull_request` event. */
export const GitHubPullRequestSchema = v.looseObject({
  action: v.string(),
  number: v.number(),
  pull_request: v.looseObject({
    title: v.string(),
    html_url: v.string(),
    state: v.string(),
    merged: v.optional(v.nullable(v.boolean())),
    head: v.looseObject({ ref: v.string(), sha: v.string() }),
    base: v.looseObject({ ref: v.string() }),
    user: v.optional(v.looseObject({ login: v.string() })),
  }),
  repository: gitHubRepository,
  sender: v.optional(v.looseObject({ login: v.string() })),
});

/** GitLab `Push Hook`. */
export const GitLabPushSchema = v.looseObject({
  object_kind: v.literal("push"),
  event_name: v.optional(v.string()),
  ref: v.string(),
  before: v.string(),
  after: v.string(),
  checkout_sha: v.optional(v.nullable(v.string())),
  user_username: v.optional(v.string()),
  project: v.looseObject({
    path_with_namespace: v.string(),
    web_url: v.optional(v.string()),
    default_branch: v.optional(v.string()),
  }),
  commits: v.optional(v.array(v.looseObject({ id: v.string(), message: v.optional(v.string()) })), []),
  total_commits_count: v.optional(v.number()),
});

/** Any other GitLab hook: only its kind is read. */
export const GitLabAnySchema = v.looseObject({ object_kind: v.string() });

/** What every webhook endpoint answers: the signals recorded, and how many were already known. */
export const WebhookAcceptedSchema = v.object({
  signals: v.array(
    v.object({ signal_id: v.string(), dedupe_key: v.string(), duplicate: v.boolean(), seq: v.number() }),
  ),
  accepted: v.number(),
  duplicates: v.number(),
});

/** The webhook routes: each provider's deliveries, authenticated by the provider's own mechanism in the handler. */
import * as v from "valibot";
import {
  AlertmanagerWebhookSchema,
  ArgoCdNotificationSchema,
  GitHubPullRequestSchema,
  GitHubPushSchema,
  GitLabPushSchema,
  WebhookAcceptedSchema,
} from "../../schemas/api/index.ts";
import { LinearWebhookOutcomeSchema, LinearWebhookSchema } from "../../schemas/rpc/approvals.ts";
import type { Handler, Route } from "./api.ts";

export interface WebhookHandlers {
  alertmanager: Handler;
  argocd: Handler;
  git: Handler;
  linear: Handler;
}

const WEBHOOK_BODY = "the provider's credentials are checked first, and the event header says which shape the body has";

const webhookAccepted = {
  202: { description: "Signals recorded (duplicates counted, not re-appended)", schema: WebhookAcceptedSchema },
};

export function webhookRoutes(h: WebhookHandlers): Route[] {
  return [
    {
      method: "POST",
      path: "/v1/hooks/alertmanager",
      operationId: "alertmanagerWebhook",
      summary: "Alertmanager webhook (payload version 4); bearer or basic credentials from http_config",
      tags: ["webhooks"],
      access: "webhook",
      bodyCheckedByHandler: WEBHOOK_BODY,
      body: AlertmanagerWebhookSchema,
      responses: webhookAccepted,
      handler: h.alertmanager,
    },
    {
      method: "POST",
      path: "/v1/hooks/argocd",
      operationId: "argocdWebhook",
      summary: "Argo CD notifications webhook; shared secret in X-Wheelhouse-Token",
      tags: ["webhooks"],
      access: "webhook",
      bodyCheckedByHandler: WEBHOOK_BODY,
      body: ArgoCdNotificationSchema,
      responses: webhookAccepted,
      handler: h.argocd,
    },
    {
      method: "POST",
      path: "/v1/hooks/git",
      operationId: "gitWebhook",
      summary: "GitHub (X-Hub-Signature-256) or GitLab (X-Gitlab-Token) webhook",
      tags: ["webhooks"],
      access: "webhook",
      bodyCheckedByHandler: WEBHOOK_BODY,
      body: v.union([GitHubPushSchema, GitHubPullRequestSchema, GitLabPushSchema]),
      responses: {
        ...webhookAccepted,
        200: { description: "A ping: nothing recorded", schema: WebhookAcceptedSchema },
      },
      handler: h.git,
    },
    {
      method: "POST",
      path: "/v1/webhooks/linear",
      operationId: "linearWebhook",
      summary:
        "Linear webhook (Issue updates of approval issues); Linear-Signature HMAC-SHA256 of the raw body, webhookTimestamp within 60 s, no replays",
      tags: ["webhooks", "approvals"],
      access: "webhook",
      bodyCheckedByHandler: "Linear's signature and timestamp are checked first",
      body: LinearWebhookSchema,
      responses: {
        200: { description: "What the approvals service made of the delivery", schema: LinearWebhookOutcomeSchema },
      },
      handler: h.linear,
    },
  ];
}

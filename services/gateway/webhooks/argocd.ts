/** Argo CD notifications: a shared token header; one signal per sync or health event. */
import { ArgoCdNotificationSchema } from "../../../schemas/api/index.ts";
import { type ApiRequest, parseInput } from "../api.ts";
import type { WebhookSecrets } from "../deps.ts";
import { compact, requireSecret, type Signal, safeEqual, unauthenticated } from "./common.ts";

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

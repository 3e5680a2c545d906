/** Alertmanager's webhook receiver: bearer or basic credentials; one signal per alert of the group. */
import { AlertmanagerWebhookSchema } from "../../../schemas/api/index.ts";
import { type ApiRequest, parseInput } from "../api.ts";
import type { WebhookSecrets } from "../deps.ts";
import { compact, pick, requireSecret, type Signal, safeEqual, unauthenticated } from "./common.ts";

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

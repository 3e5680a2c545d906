/**
 * PagerDuty's Events API v2 (`connectors.pagerduty`): a `trigger` event
 * (`POST /v2/enqueue` with the integration's routing key, a dedup key and a
 * payload of summary, source, severity and custom details), answered 202
 * `{status, message, dedup_key}`. The dedup key is the caller's: PagerDuty
 * folds every trigger with the same key into one open alert, so sending again
 * never opens a second incident. No Authorization header: the routing key in
 * the body is the credential.
 */
import { type ProviderClient, requestJson } from "./http.ts";

/** PagerDuty's public Events API; `connectors.pagerduty.api_base` points elsewhere (a local server in tests). */
export const PAGERDUTY_EVENTS_BASE = "https://events.pagerduty.com";

export interface PagerDutySettings {
  /** The Events API's base URL, without `/v2/enqueue`. */
  readonly apiBase: string;
  /** The Events API v2 integration key of the service to page. */
  readonly routingKey: string;
  readonly timeoutMs?: number | undefined;
  readonly fetch?: typeof fetch | undefined;
}

export type PagerDutySeverity = "critical" | "error" | "warning" | "info";

export interface PagerDutyTrigger {
  /** At most 255 characters. */
  readonly dedupKey: string;
  /** At most 1024 characters: PagerDuty cuts longer ones. */
  readonly summary: string;
  readonly source: string;
  readonly severity: PagerDutySeverity;
  readonly customDetails?: Readonly<Record<string, unknown>> | undefined;
  readonly links?: readonly { readonly href: string; readonly text: string }[] | undefined;
  readonly client?: string | undefined;
}

export interface PagerDutyEvents {
  /** Triggers (or folds into the open alert of) `dedupKey`; answers the dedup key PagerDuty holds it under. */
  trigger(event: PagerDutyTrigger): Promise<{ dedupKey: string }>;
}

export function createPagerDutyEvents(settings: PagerDutySettings): PagerDutyEvents {
  const url = `${settings.apiBase.replace(/\/+$/, "")}/v2/enqueue`;
  const client: ProviderClient = {
    provider: "PagerDuty",
    configPath: "connectors.pagerduty",
    secrets: [settings.routingKey],
    timeoutMs: settings.timeoutMs ?? 10_000,
    fetch: settings.fetch,
  };
  return {
    async trigger(event) {
      const { body } = await requestJson(client, {
        method: "POST",
        url,
        body: {
          routing_key: settings.routingKey,
          event_action: "trigger",
          dedup_key: event.dedupKey,
          ...(event.client ? { client: event.client } : {}),
          ...(event.links?.length ? { links: event.links } : {}),
          payload: {
            summary: event.summary.slice(0, 1024),
            source: event.source,
            severity: event.severity,
            ...(event.customDetails ? { custom_details: event.customDetails } : {}),
          },
        },
      });
      const answered = (body as { dedup_key?: unknown } | null)?.dedup_key;
      return { dedupKey: typeof answered === "string" ? answered : event.dedupKey };
    },
  };
}

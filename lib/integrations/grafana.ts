/**
 * Grafana's annotations HTTP API (`connectors.grafana`): create an
 * organization annotation (`POST /api/annotations`: epoch-millisecond `time`,
 * `timeEnd` for a region, `tags`, `text`; answered `{id, message}`) and find
 * annotations by tags (`GET /api/annotations?tags=…&type=annotation`, every
 * tag must match), authenticated with a service account token as a bearer
 * token. Finding by tags is what lets a retried caller see the annotation an
 * earlier attempt made before it could record it.
 */
import { type ProviderClient, requestJson } from "./http.ts";

export interface GrafanaSettings {
  /** Grafana's base URL (`connectors.grafana.url`). */
  readonly url: string;
  /** A service account token; null sends no credentials (a Grafana open to anonymous editors). */
  readonly token: string | null;
  readonly timeoutMs?: number | undefined;
  readonly fetch?: typeof fetch | undefined;
}

export interface NewAnnotation {
  /** Epoch milliseconds. */
  readonly time: number;
  /** Epoch milliseconds; set for a region from `time` to here. */
  readonly timeEnd?: number | undefined;
  readonly tags: readonly string[];
  readonly text: string;
}

/** An annotation as `GET /api/annotations` lists it (the fields read here). */
export interface GrafanaAnnotation {
  readonly id: number;
  readonly time: number;
  readonly timeEnd?: number;
  readonly text: string;
  readonly tags: readonly string[];
}

export interface GrafanaAnnotations {
  /** Creates an organization annotation; answers its id. */
  create(annotation: NewAnnotation): Promise<number>;
  /** Annotations carrying every one of `tags`, newest first. */
  findByTags(tags: readonly string[]): Promise<GrafanaAnnotation[]>;
}

export function createGrafanaAnnotations(settings: GrafanaSettings): GrafanaAnnotations {
  const base = settings.url.replace(/\/+$/, "");
  const client: ProviderClient = {
    provider: "Grafana",
    configPath: "connectors.grafana",
    secrets: settings.token ? [settings.token] : [],
    timeoutMs: settings.timeoutMs ?? 10_000,
    fetch: settings.fetch,
  };
  const headers: Record<string, string> = settings.token ? { authorization: `Bearer ${settings.token}` } : {};
  return {
    async create(annotation) {
      const { body } = await requestJson(client, {
        method: "POST",
        url: `${base}/api/annotations`,
        headers,
        body: {
          time: annotation.time,
          ...(annotation.timeEnd === undefined ? {} : { timeEnd: annotation.timeEnd }),
          tags: annotation.tags,
          text: annotation.text,
        },
      });
      const id = (body as { id?: unknown } | null)?.id;
      if (typeof id !== "number") {
        throw new TypeError(`Grafana answered POST /api/annotations without a numeric id: ${JSON.stringify(body)}`);
      }
      return id;
    },
    async findByTags(tags) {
      const query = new URLSearchParams([
        ["type", "annotation"],
        ["limit", "100"],
        ...tags.map((t): [string, string] => ["tags", t]),
      ]);
      const { body } = await requestJson(client, { method: "GET", url: `${base}/api/annotations?${query}`, headers });
      return Array.isArray(body) ? (body as GrafanaAnnotation[]) : [];
    },
  };
}

/** Grafana datasources through its HTTP API: `GET /api/datasources` with a service account token. */
import type { DatasourceFact } from "../facts.ts";
import { publicUrl } from "./cloud.ts";

export interface GrafanaSourceOptions {
  readonly url: string;
  /** A service account token (or API key); none for a Grafana that allows anonymous reads. */
  readonly token?: string | null | undefined;
}

export interface GrafanaDatasources {
  readonly datasources: DatasourceFact[];
  /** Entries without a uid, name or type, left out. */
  readonly skipped: number;
}

export function grafanaDatasourcesPoll(
  opts: GrafanaSourceOptions,
): (signal: AbortSignal) => Promise<GrafanaDatasources> {
  const url = new URL("api/datasources", opts.url.endsWith("/") ? opts.url : `${opts.url}/`);
  return async (signal) => {
    const res = await fetch(url, {
      headers: { accept: "application/json", ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
      signal,
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {}
      throw new Error(`GET ${url.pathname}: ${res.status} ${message}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`GET ${url.pathname}: the answer is not JSON`);
    }
    if (!Array.isArray(body)) throw new Error(`GET ${url.pathname}: the answer is not a list of datasources`);
    const datasources: DatasourceFact[] = [];
    let skipped = 0;
    for (const d of body as Record<string, unknown>[]) {
      if (typeof d?.uid !== "string" || typeof d.name !== "string" || typeof d.type !== "string") {
        skipped++;
        continue;
      }
      datasources.push({
        uid: d.uid,
        name: d.name,
        type: d.type,
        url: publicUrl(d.url),
        isDefault: d.isDefault === true,
      });
    }
    datasources.sort((a, b) => a.uid.localeCompare(b.uid));
    return { datasources, skipped };
  };
}

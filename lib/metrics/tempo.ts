/**
 * A client of Grafana Tempo's search API (`GET /api/search` with `q` for
 * TraceQL or `tags` in logfmt, `start`/`end` in Unix seconds, `limit`,
 * `minDuration`/`maxDuration`), as Tempo documents it: the traces found
 * (`traceID`, `rootServiceName`, `rootTraceName`, `startTimeUnixNano`,
 * `durationMs`, span sets) and the search's `metrics`, the body kept as it
 * came for evidence. Tempo answers a refused query with a 400 and its reason
 * as plain text: that is a `ValidationError`; Tempo away, timing out or
 * answering 5xx is an `UnavailableError`. `measureTraces` reduces an answer
 * to the number an analysis judges.
 */
import { UnavailableError, ValidationError } from "../errors/index.ts";
import { getMetricsAnswer, type MetricsError, withRaw } from "./http.ts";

export interface TempoOptions {
  /** Tempo's (query frontend's) base URL (`connectors.tempo.url`), e.g. http://127.0.0.1:3200. */
  readonly url: string;
  readonly timeoutMs?: number | undefined;
  readonly fetch?: typeof fetch | undefined;
}

export interface TempoSearch {
  /** TraceQL, e.g. `{ resource.service.name = "shop" && status = error }`. */
  readonly q?: string | undefined;
  /** Tag search in logfmt, e.g. `service.name=shop http.status_code=500`. */
  readonly tags?: string | undefined;
  readonly start?: Date | undefined;
  readonly end?: Date | undefined;
  readonly limit?: number | undefined;
  /** Go durations: `100ms`, `1.5s`. */
  readonly minDuration?: string | undefined;
  readonly maxDuration?: string | undefined;
}

export interface TempoTrace {
  readonly traceID: string;
  readonly rootServiceName?: string | undefined;
  readonly rootTraceName?: string | undefined;
  /** Nanoseconds since the epoch, as a string (a uint64). */
  readonly startTimeUnixNano?: string | undefined;
  /** Absent when under a millisecond. */
  readonly durationMs?: number | undefined;
  readonly spanSets?: readonly unknown[] | undefined;
}

export interface TempoSearchAnswer {
  readonly traces: readonly TempoTrace[];
  /** Counters of the search (uint64 fields come as strings; absent means 0). */
  readonly metrics: Readonly<Record<string, unknown>>;
  /** The response body as received, for evidence. */
  readonly raw: string;
}

export interface TempoClient {
  readonly url: string;
  search(search: TempoSearch): Promise<TempoSearchAnswer>;
}

/** A failed search keeps what Tempo answered (`extra.raw`), for evidence. */
export type TempoError = MetricsError;

const FIELD = "connectors.tempo.url";

export function createTempoClient(options: TempoOptions): TempoClient {
  const base = options.url.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;
  return {
    url: base,
    async search(search) {
      const params = new URLSearchParams();
      if (search.q !== undefined) params.set("q", search.q);
      if (search.tags !== undefined) params.set("tags", search.tags);
      if (search.start) params.set("start", String(Math.floor(search.start.getTime() / 1000)));
      if (search.end) params.set("end", String(Math.ceil(search.end.getTime() / 1000)));
      if (search.limit !== undefined) params.set("limit", String(search.limit));
      if (search.minDuration !== undefined) params.set("minDuration", search.minDuration);
      if (search.maxDuration !== undefined) params.set("maxDuration", search.maxDuration);
      const what = `Tempo at ${base}`;
      const { response, raw } = await getMetricsAnswer(`${base}/api/search?${params}`, {
        provider: "Tempo",
        what,
        field: FIELD,
        timeoutMs,
        fetch: doFetch,
      });
      const said = raw.trim().slice(0, 300);
      if (response.status === 400) {
        throw withRaw(
          new ValidationError(`${what} refused the search: ${said}`, {
            field: "verification.analysis.query",
            fix: "correct the TraceQL query or the logfmt tags (try them in Grafana's Tempo explorer)",
          }),
          raw,
        );
      }
      if (!response.ok) {
        throw withRaw(
          new UnavailableError(`${what} answered ${response.status}: ${said}`, {
            field: FIELD,
            fix: response.status === 404 ? "point connectors.tempo.url at Tempo's HTTP port (3200)" : "retry later",
          }),
          raw,
        );
      }
      let body: { traces?: unknown; metrics?: unknown };
      try {
        body = JSON.parse(raw) as typeof body;
      } catch {
        throw withRaw(
          new UnavailableError(`${what} answered something other than JSON: ${said}`, {
            field: FIELD,
            fix: "check that the address is Tempo's query frontend",
          }),
          raw,
        );
      }
      const traces = Array.isArray(body.traces) ? (body.traces as TempoTrace[]) : [];
      const metrics =
        body.metrics !== null && typeof body.metrics === "object" ? (body.metrics as Record<string, unknown>) : {};
      return { traces, metrics, raw };
    },
  };
}

/**
 * The number an analysis judges: how many traces matched (`count`), or the slowest one's duration
 * (`max_duration_ms`). Nothing found counts as 0 only when Tempo says it searched traces
 * (`inspectedTraces` or `inspectedBytes` above 0): an empty search of nothing is no measurement.
 */
export function measureTraces(
  answer: TempoSearchAnswer,
  measure: "count" | "max_duration_ms",
  limit: number,
): { readonly value: number | null; readonly detail: string } {
  const inspected = Number(answer.metrics.inspectedTraces ?? 0);
  const bytes = Number(answer.metrics.inspectedBytes ?? 0);
  const searched = inspected > 0 || bytes > 0;
  const n = answer.traces.length;
  if (n === 0 && !searched) {
    return {
      value: null,
      detail: "Tempo inspected no traces in the window (no data: tracing off, or the wrong window)",
    };
  }
  if (measure === "count") {
    const capped = n >= limit ? ` (the limit: there may be more)` : "";
    return { value: n, detail: `${n} trace(s) matched${capped}${inspected > 0 ? ` of ${inspected} inspected` : ""}` };
  }
  if (n === 0) return { value: null, detail: "no trace matched, so there is no slowest one" };
  const slowest = answer.traces.reduce((a, t) => ((t.durationMs ?? 0) > (a.durationMs ?? 0) ? t : a));
  return {
    value: slowest.durationMs ?? 0,
    detail: `slowest of ${n}: trace ${slowest.traceID} (${slowest.rootServiceName ?? "?"} ${slowest.rootTraceName ?? ""}) ${slowest.durationMs ?? 0} ms`,
  };
}

/**
 * A client of Prometheus' HTTP API for instant queries
 * (`GET /api/v1/query?query=…&time=…`), as verification measures with it:
 * the answer parsed (vector, scalar, matrix or string, and warnings), the
 * body kept as it came (it is stored as evidence), and a failure as an error
 * a caller can act on: the query refused (`bad_data`, an execution error) is
 * a `ValidationError` naming the query, Prometheus away, timing out or
 * answering 5xx an `UnavailableError`. `oneSample` reduces an answer to the
 * single number an analysis judges, or null with the reason there is none.
 */
import { UnavailableError, ValidationError } from "../errors/index.ts";
import { getMetricsAnswer, type MetricsError, withRaw } from "./http.ts";

export interface PrometheusOptions {
  /** The server's base URL (`connectors.prometheus.url`), e.g. http://127.0.0.1:9090. */
  readonly url: string;
  /** One request's deadline; default 10 s (also sent as the query's own `timeout`). */
  readonly timeoutMs?: number | undefined;
  readonly fetch?: typeof fetch | undefined;
}

export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  /** Unix seconds. */
  readonly time: number;
  /** Prometheus writes values as strings: "NaN", "+Inf" and "-Inf" included. */
  readonly value: number;
}

export type InstantResult =
  | { readonly resultType: "vector"; readonly samples: readonly PromSample[] }
  | { readonly resultType: "scalar"; readonly time: number; readonly value: number }
  | { readonly resultType: "string"; readonly time: number; readonly value: string }
  | { readonly resultType: "matrix"; readonly series: number };

export interface InstantAnswer {
  readonly result: InstantResult;
  readonly warnings: readonly string[];
  /** The response body as received, for evidence. */
  readonly raw: string;
}

export interface PrometheusClient {
  readonly url: string;
  /** Evaluates `promql` at `time` (default: now, as Prometheus sees it). */
  query(promql: string, options?: { readonly time?: Date | undefined }): Promise<InstantAnswer>;
}

/** A failed query keeps what Prometheus answered (`extra.raw`), for evidence. */
export type PrometheusError = MetricsError;

const FIELD = "connectors.prometheus.url";

export function createPrometheusClient(options: PrometheusOptions): PrometheusClient {
  const base = options.url.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;
  return {
    url: base,
    async query(promql, { time } = {}) {
      const params = new URLSearchParams({ query: promql, timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` });
      if (time) params.set("time", (time.getTime() / 1000).toFixed(3));
      const what = `Prometheus at ${base}`;
      const { response, raw } = await getMetricsAnswer(`${base}/api/v1/query?${params}`, {
        provider: "Prometheus",
        what,
        field: FIELD,
        timeoutMs,
        fetch: doFetch,
      });
      let body: ApiBody | null = null;
      try {
        body = JSON.parse(raw) as ApiBody;
      } catch {
        body = null;
      }
      if (body?.status === "success" && response.ok) {
        return { result: parseResult(body.data, what, raw), warnings: body.warnings ?? [], raw };
      }
      const said = body?.error ? `${body.errorType ?? "error"}: ${body.error}` : raw.slice(0, 300);
      const message = `${what} answered ${response.status} to ${JSON.stringify(promql)}: ${said}`;
      // 400 bad_data and 422 execution errors are the query's; 503 (timeout, overload) and others are the server's.
      if (response.status === 400 || response.status === 422) {
        throw withRaw(
          new ValidationError(message, {
            field: "verification.analysis.query",
            fix: "correct the PromQL query (try it in Prometheus' expression browser)",
          }),
          raw,
        );
      }
      throw withRaw(
        new UnavailableError(message, {
          field: FIELD,
          fix: response.status === 404 ? "point connectors.prometheus.url at the server's root" : "retry later",
        }),
        raw,
      );
    },
  };
}

interface ApiBody {
  readonly status?: string;
  readonly data?: { readonly resultType?: string; readonly result?: unknown };
  readonly errorType?: string;
  readonly error?: string;
  readonly warnings?: string[];
}

function parseResult(data: ApiBody["data"], what: string, raw: string): InstantResult {
  const result = data?.result;
  const pair = (p: unknown): { time: number; text: string } => {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[1] !== "string") {
      throw withRaw(
        new UnavailableError(`${what} answered a sample this client cannot read: ${JSON.stringify(p)}`, {
          field: FIELD,
          fix: "check that the address is a Prometheus server (its /api/v1/query)",
        }),
        raw,
      );
    }
    return { time: Number(p[0]), text: p[1] };
  };
  switch (data?.resultType) {
    case "vector":
      return {
        resultType: "vector",
        samples: ((result as { metric?: Record<string, string>; value?: unknown }[]) ?? []).map((s) => {
          const { time, text } = pair(s.value);
          return { metric: s.metric ?? {}, time, value: sampleValue(text) };
        }),
      };
    case "scalar": {
      const { time, text } = pair(result);
      return { resultType: "scalar", time, value: sampleValue(text) };
    }
    case "string": {
      const { time, text } = pair(result);
      return { resultType: "string", time, value: text };
    }
    case "matrix":
      return { resultType: "matrix", series: Array.isArray(result) ? result.length : 0 };
    default:
      throw withRaw(
        new UnavailableError(`${what} answered a result type this client does not know: ${data?.resultType}`, {
          field: FIELD,
          fix: "check that the address is a Prometheus server (its /api/v1/query)",
        }),
        raw,
      );
  }
}

/** A sample's value as Prometheus writes it ("0.5", "NaN", "+Inf", "-Inf"). */
function sampleValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** The one number an answer measures, or null with why there is none (never a guess). */
export function oneSample(result: InstantResult): { readonly value: number | null; readonly detail: string } {
  let value: number;
  let labels = "";
  switch (result.resultType) {
    case "vector": {
      if (result.samples.length === 0) {
        return {
          value: null,
          detail: "the query returned no series (no data yet, no traffic, or labels that match nothing)",
        };
      }
      if (result.samples.length > 1) {
        return {
          value: null,
          detail: `the query returned ${result.samples.length} series; aggregate them to one (sum, max, avg)`,
        };
      }
      const [sample] = result.samples as [PromSample];
      value = sample.value;
      labels = Object.entries(sample.metric)
        .map(([k, v]) => `${k}="${v}"`)
        .join(",");
      break;
    }
    case "scalar":
      value = result.value;
      break;
    case "string":
      return { value: null, detail: "the query returned a string, not a number" };
    case "matrix":
      return { value: null, detail: "the query returned a range vector; ask for an instant vector or a scalar" };
  }
  const at = labels ? `{${labels}} ` : "";
  if (!Number.isFinite(value)) {
    return {
      value: null,
      detail: `${at}${value} is no measurement (NaN is 0/0: no requests in the window; ±Inf a division by zero)`,
    };
  }
  return { value, detail: `${at}${value}` };
}

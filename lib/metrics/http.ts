/**
 * What the metrics clients (prometheus.ts, tempo.ts) share over HTTP: one GET with a deadline whose
 * body is read whole (it is kept as evidence), a server that does not answer turned into an
 * `UnavailableError` naming it and its config field, and a failure that keeps what the server
 * answered (`extra.raw`).
 */
import { UnavailableError, type WheelhouseError } from "../errors/index.ts";

/** A failed request keeps what the server answered (`extra.raw`; null when it did not answer), for evidence. */
export type MetricsError = WheelhouseError & { readonly extra: { readonly raw: string | null } };

export interface MetricsRequest {
  /** The server, as messages name it: `Prometheus`, `Tempo`. */
  readonly provider: string;
  /** The server and its address, as messages name it: `Prometheus at http://…`. */
  readonly what: string;
  /** The config field of the server's URL, named by the error when it does not answer. */
  readonly field: string;
  readonly timeoutMs: number;
  readonly fetch: typeof fetch;
}

/** GETs `url` (JSON accepted) and reads the whole body; no answer within `timeoutMs` is an `UnavailableError`. */
export async function getMetricsAnswer(
  url: string,
  request: MetricsRequest,
): Promise<{ readonly response: Response; readonly raw: string }> {
  try {
    const response = await request.fetch(url, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    return { response, raw: await response.text() };
  } catch (cause) {
    throw withRaw(
      new UnavailableError(`${request.what} did not answer: ${(cause as Error).message}`, {
        field: request.field,
        fix: `check that ${request.provider} runs and is reachable at the configured address`,
        cause,
      }),
      null,
    );
  }
}

/** `error` with what the server answered kept in its `extra.raw`. */
export function withRaw(error: WheelhouseError, raw: string | null): MetricsError {
  Object.assign(error, { extra: { ...error.extra, raw } });
  return error as MetricsError;
}

/**
 * One JSON request to an outside service (Grafana, PagerDuty, GitHub), with a
 * deadline, and its failure as the error a caller can act on: the provider
 * refusing the request (400, 401, 403, 404, 422) is a `WheelhouseError` of the
 * matching code that names the config field and the fix, and a retry would be
 * refused again; too many requests is `RateLimitedError` and an outage, a
 * timeout or a 5xx is `UnavailableError`, both worth retrying. Secrets never
 * appear in a message: the provider's own text is scrubbed of them first.
 */
import {
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
  type WheelhouseError,
} from "../errors/index.ts";
import { createSecretScrubber } from "../redact/index.ts";

export interface JsonRequest {
  readonly method: "GET" | "POST" | "PATCH";
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export interface ProviderClient {
  /** The service's name in messages (`Grafana`, `PagerDuty`). */
  readonly provider: string;
  /** The config section a failure points at (`connectors.grafana`). */
  readonly configPath: string;
  /** Secrets that must never show in an error message. */
  readonly secrets: readonly string[];
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch | undefined;
}

export interface JsonResponse {
  readonly status: number;
  readonly body: unknown;
}

/** Sends `request` and answers a 2xx response's parsed body; anything else throws (see the file's header). */
export async function requestJson(client: ProviderClient, request: JsonRequest): Promise<JsonResponse> {
  const doFetch = client.fetch ?? fetch;
  const scrub = createSecretScrubber([...client.secrets]);
  const what = `${client.provider} ${request.method} ${new URL(request.url).pathname}`;
  let response: Response;
  let text: string;
  try {
    response = await doFetch(request.url, {
      method: request.method,
      headers: {
        accept: "application/json",
        ...(request.body === undefined ? {} : { "content-type": "application/json" }),
        ...request.headers,
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(client.timeoutMs),
    });
    text = await response.text();
  } catch (cause) {
    throw new UnavailableError(`${what} did not answer: ${scrub((cause as Error).message)}`, {
      field: client.configPath,
      fix: `check that ${client.provider} is reachable at the configured address`,
      cause,
    });
  }
  let body: unknown;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  if (response.ok) return { status: response.status, body };
  throw providerError(client, what, response, scrub(describeBody(body)));
}

/** The provider's own words for a failure: its `message` (and `errors`), else the body as text. */
function describeBody(body: unknown): string {
  if (typeof body === "string") return body.slice(0, 500);
  if (body === null || typeof body !== "object") return "";
  const { message, errors } = body as { message?: unknown; errors?: unknown };
  const detail = Array.isArray(errors)
    ? errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e))).join("; ")
    : "";
  return [typeof message === "string" ? message : "", detail].filter(Boolean).join(": ") || JSON.stringify(body);
}

function providerError(client: ProviderClient, what: string, response: Response, said: string): WheelhouseError {
  const message = `${what} answered ${response.status}${said ? `: ${said}` : ""}`;
  const field = client.configPath;
  switch (response.status) {
    case 401:
      return new UnauthenticatedError(message, {
        field,
        fix: `check the credentials in ${field} (a valid, unexpired token)`,
      });
    case 403:
      return new ForbiddenError(message, { field, fix: `give the credentials in ${field} the permission named` });
    case 404:
      return new NotFoundError(message, { field, fix: `check the address in ${field} and the names in the request` });
    case 429: {
      const retryAfter = Number(response.headers.get("retry-after"));
      return new RateLimitedError(message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1, {
        field,
        fix: "retry later",
      });
    }
    default:
      return response.status >= 500 || response.status === 408
        ? new UnavailableError(message, { field, fix: `retry; ${client.provider} had a problem of its own` })
        : new ValidationError(message, { field, fix: `correct the request ${client.provider} refused` });
  }
}

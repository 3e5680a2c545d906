/**
 * The provider-neutral shape of one structured LLM call, and the errors a
 * provider client reports. Clients make exactly one HTTP attempt (SDK retries
 * off); the router decides about retries and fallbacks from `retryable`.
 */
import { UnavailableError } from "../errors/index.ts";

export type ProviderName = "openai" | "anthropic" | "codex";

export interface LLMMessage {
  readonly role: "user" | "assistant";
  readonly content: string;
}

/** A JSON Schema object handed to the provider as the answer's shape. */
export type JsonSchemaObject = Readonly<Record<string, unknown>>;

export interface StructuredRequest {
  /** Instructions. Already redacted by the caller. */
  readonly system: string;
  /** Conversation so far (one user turn, or user / assistant / user for a repair). Already redacted. */
  readonly messages: readonly LLMMessage[];
  /** Name of the output schema (OpenAI json_schema name, Anthropic tool name): `[a-zA-Z0-9_-]{1,64}`. */
  readonly schemaName: string;
  readonly schemaDescription?: string | undefined;
  readonly schema: JsonSchemaObject;
  readonly signal?: AbortSignal | undefined;
}

export interface StructuredResponse {
  readonly provider: ProviderName;
  readonly model: string;
  /** The answer as text (JSON text when the model kept to the format). */
  readonly text: string;
  /** The parsed answer, or undefined when `text` is not JSON (see `parseError`). */
  readonly json: unknown;
  readonly parseError?: string | undefined;
  readonly usage?:
    | { readonly input_tokens?: number | undefined; readonly output_tokens?: number | undefined }
    | undefined;
  readonly requestId?: string | undefined;
  /** Why the model stopped: `stop`, `end_turn`, `tool_use`, `length`, `max_tokens`, ... */
  readonly stopReason?: string | undefined;
}

/** One provider behind one model. */
export interface LLMClient {
  readonly provider: ProviderName;
  readonly model: string;
  complete(request: StructuredRequest): Promise<StructuredResponse>;
}

export type ProviderFailure =
  | "rate_limited"
  | "server_error"
  | "timeout"
  | "network"
  | "truncated"
  | "auth"
  | "bad_request"
  | "refused";

const RETRYABLE: ReadonlySet<ProviderFailure> = new Set([
  "rate_limited",
  "server_error",
  "timeout",
  "network",
  "truncated",
]);

/** A provider call failed. `retryable` failures are retried with backoff, then the next provider is tried. */
export class ProviderError extends UnavailableError {
  readonly provider: ProviderName;
  readonly failure: ProviderFailure;
  readonly retryable: boolean;
  readonly httpStatus: number | undefined;
  /** From Retry-After (or retry-after-ms), when the provider sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    provider: ProviderName,
    failure: ProviderFailure,
    message: string,
    details: { httpStatus?: number | undefined; retryAfterMs?: number | undefined; cause?: unknown; fix?: string } = {},
  ) {
    super(`${provider}: ${message}`, {
      cause: details.cause,
      fix: details.fix,
      extra: { provider, failure, http_status: details.httpStatus },
    });
    this.name = "ProviderError";
    this.provider = provider;
    this.failure = failure;
    this.retryable = RETRYABLE.has(failure);
    this.httpStatus = details.httpStatus;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Parses JSON from a model's text, tolerating a Markdown code fence around it. */
export function parseModelJson(text: string): { json: unknown; parseError?: string } {
  const trimmed = text.trim();
  const fenced = /^```(?:json)?\s*\n([\s\S]*?)\n?```$/.exec(trimmed);
  const body = fenced?.[1] ?? trimmed;
  try {
    return { json: JSON.parse(body) as unknown };
  } catch (cause) {
    return { json: undefined, parseError: (cause as Error).message };
  }
}

/**
 * Reads Retry-After (seconds or an HTTP date) and the `retry-after-ms`
 * header some providers send, from a fetch `Headers`.
 */
export function retryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

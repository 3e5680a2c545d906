/**
 * The LLM router: the configured provider, then each `fallback` in order.
 * Each provider gets `max_retries` retries with exponential backoff and full
 * jitter on 429 (honouring Retry-After), 5xx, timeouts, network errors and
 * truncated streams; anything else (auth, bad request, refusal) moves on to
 * the next provider at once. When every provider has failed the caller (the
 * planner) falls back to the template planner. The answer says who answered.
 */
import type { Logger } from "pino";
import { type LLMConfig, type LLMProviderConfig, resolveSecret } from "../config/index.ts";
import { ConfigError, UnavailableError } from "../errors/index.ts";
import { AnthropicClient } from "./anthropic.ts";
import { CodexClient } from "./codex.ts";
import { OpenAIClient } from "./openai.ts";
import {
  type LLMClient,
  ProviderError,
  type ProviderFailure,
  type ProviderName,
  type StructuredRequest,
  type StructuredResponse,
} from "./types.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** Models used when the configuration names none. Configure `llm.model` to pin one. */
export const DEFAULT_MODELS: Readonly<Record<ProviderName, string>> = {
  openai: "gpt-5-mini",
  anthropic: "claude-sonnet-4-5",
  codex: "gpt-5-codex",
};

const DEFAULT_KEY_REFS: Readonly<Record<ProviderName, string>> = {
  openai: "env:OPENAI_API_KEY",
  anthropic: "env:ANTHROPIC_API_KEY",
  codex: "env:CODEX_ACCESS_TOKEN",
};

/** One call to one provider, as recorded in the plan's evidence. */
export interface ProviderAttempt {
  readonly provider: ProviderName;
  readonly model: string;
  readonly attempt: number;
  readonly outcome: "ok" | ProviderFailure | "aborted";
  readonly ms: number;
  readonly error?: string | undefined;
  readonly http_status?: number | undefined;
  readonly waited_ms?: number | undefined;
}

export interface RoutedResponse extends StructuredResponse {
  readonly attempts: readonly ProviderAttempt[];
}

export interface LLMRouter {
  /** False when no provider is configured (`provider: none`): the template planner plans alone. */
  readonly enabled: boolean;
  readonly providers: readonly { readonly provider: ProviderName; readonly model: string }[];
  complete(request: StructuredRequest): Promise<RoutedResponse>;
}

/** Every configured provider failed; `attempts` says how. */
export class AllProvidersFailedError extends UnavailableError {
  readonly attempts: readonly ProviderAttempt[];
  constructor(attempts: readonly ProviderAttempt[], cause?: unknown) {
    const last = attempts.at(-1);
    super(
      `every LLM provider failed (${attempts.length} attempt(s)); last: ${last ? `${last.provider} ${last.outcome}${last.error ? `: ${last.error}` : ""}` : "none configured"}`,
      { cause, extra: { attempts } },
    );
    this.name = "AllProvidersFailedError";
    this.attempts = attempts;
  }
}

export interface RouterDeps {
  /** Resolves `api_key` references (`env:NAME`); the service entry passes `process.env`. */
  readonly env?: Env | undefined;
  readonly logger?: Logger | undefined;
  /** Overrides the clients built from config (tests, or a custom provider). */
  readonly clients?: readonly LLMClient[] | undefined;
  /** Stream answers over SSE instead of plain JSON (default false). */
  readonly stream?: boolean | undefined;
  readonly baseDelayMs?: number | undefined;
  readonly maxDelayMs?: number | undefined;
  /** A Retry-After longer than this moves on to the next provider instead of waiting. */
  readonly maxRetryAfterMs?: number | undefined;
  readonly random?: (() => number) | undefined;
  readonly sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
}

/**
 * Builds one provider client from its config block. `null` for `provider: none`.
 * A missing API key is a `ConfigError` naming the field and the fix.
 */
export function createProviderClient(
  config: LLMProviderConfig,
  field: string,
  deps: Pick<RouterDeps, "env" | "stream"> = {},
): LLMClient | null {
  const provider = config.provider;
  if (provider === "none") return null;
  const model = config.model ?? DEFAULT_MODELS[provider];
  const keyRef = config.api_key ?? DEFAULT_KEY_REFS[provider];
  const key = resolveSecret(keyRef, deps.env ?? {});
  const common = {
    model,
    baseURL: config.api_base,
    timeoutMs: config.timeout_ms,
    maxOutputTokens: config.max_output_tokens,
  };
  if (provider === "codex") {
    if (!key && !config.auth_path) {
      throw new ConfigError(`${field}: codex needs an access token or an auth file`, [
        {
          field: `${field}.auth_path`,
          message: `no access token in ${keyRef} and no auth_path`,
          fix: "set auth_path to the Codex CLI auth.json (after `codex login`), or api_key to env:NAME holding the token",
        },
      ]);
    }
    return new CodexClient({
      ...common,
      accessToken: key ?? undefined,
      authPath: config.auth_path,
      authProfile: config.auth_profile,
      ...(deps.stream === undefined ? {} : { stream: deps.stream }),
    });
  }
  if (!key) {
    throw new ConfigError(`${field}: no API key for ${provider}`, [
      {
        field: `${field}.api_key`,
        message: `${keyRef} is not set`,
        fix: `export ${keyRef.startsWith("env:") ? keyRef.slice(4) : "the key"} before starting, or set ${field}.api_key to env:NAME or file:/path`,
      },
    ]);
  }
  if (provider === "anthropic") return new AnthropicClient({ ...common, apiKey: key, stream: deps.stream });
  return new OpenAIClient({ ...common, apiKey: key, stream: deps.stream });
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** The router for `config` (the `llm` section). */
export function createLLMRouter(config: LLMConfig, deps: RouterDeps = {}): LLMRouter {
  const clients: LLMClient[] = deps.clients
    ? [...deps.clients]
    : [
        createProviderClient(config, "llm", deps),
        ...config.fallback.map((fb, i) => createProviderClient(fb, `llm.fallback[${i}]`, deps)),
      ].filter((c): c is LLMClient => c !== null);
  const retries = config.max_retries;
  const baseDelay = deps.baseDelayMs ?? 500;
  const maxDelay = deps.maxDelayMs ?? 20_000;
  const maxRetryAfter = deps.maxRetryAfterMs ?? 30_000;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? defaultSleep;

  return {
    enabled: clients.length > 0,
    providers: clients.map((c) => ({ provider: c.provider, model: c.model })),
    async complete(request) {
      const attempts: ProviderAttempt[] = [];
      let lastError: unknown;
      for (const client of clients) {
        for (let attempt = 1; attempt <= retries + 1; attempt++) {
          const started = performance.now();
          try {
            const response = await client.complete(request);
            attempts.push({
              provider: client.provider,
              model: client.model,
              attempt,
              outcome: "ok",
              ms: Math.round(performance.now() - started),
            });
            return { ...response, attempts };
          } catch (error) {
            lastError = error;
            const ms = Math.round(performance.now() - started);
            if (request.signal?.aborted) {
              attempts.push({ provider: client.provider, model: client.model, attempt, outcome: "aborted", ms });
              throw new AllProvidersFailedError(attempts, error);
            }
            const pe =
              error instanceof ProviderError
                ? error
                : new ProviderError(client.provider, "network", (error as Error).message, { cause: error });
            const record: ProviderAttempt = {
              provider: client.provider,
              model: client.model,
              attempt,
              outcome: pe.failure,
              ms,
              error: pe.message,
              http_status: pe.httpStatus,
            };
            if (!pe.retryable || attempt > retries) {
              attempts.push(record);
              deps.logger?.warn(
                { provider: client.provider, failure: pe.failure, attempt },
                `LLM provider ${client.provider} failed (${pe.failure}); ${pe.retryable ? "retries exhausted" : "not retryable"}`,
              );
              break;
            }
            // Full jitter keeps many planners from retrying in step after a shared outage.
            const backoff = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1)) * random();
            const wait = pe.retryAfterMs !== undefined ? Math.max(pe.retryAfterMs, backoff) : backoff;
            if (wait > maxRetryAfter) {
              attempts.push({ ...record, waited_ms: 0 });
              break;
            }
            attempts.push({ ...record, waited_ms: Math.round(wait) });
            await sleep(wait, request.signal);
          }
        }
      }
      throw new AllProvidersFailedError(attempts, lastError);
    },
  };
}

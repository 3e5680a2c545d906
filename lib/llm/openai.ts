/**
 * OpenAI (and OpenAI-compatible) structured output through the official SDK:
 * Chat Completions with `response_format: json_schema`, or the Responses API
 * with `text.format: json_schema`; plain JSON or an SSE stream. One HTTP
 * attempt per call (`maxRetries: 0`): the router owns retries.
 */
import OpenAI from "openai";
import {
  type JsonSchemaObject,
  type LLMClient,
  ProviderError,
  type ProviderName,
  parseModelJson,
  retryAfterMs,
  type StructuredRequest,
  type StructuredResponse,
} from "./types.ts";

export interface OpenAIClientOptions {
  /** API key, or a function returning a fresh bearer token per request (Codex OAuth). */
  readonly apiKey: string | (() => Promise<string>);
  readonly model: string;
  /** Config `api_base`. Tests point it at a local fixture server. */
  readonly baseURL?: string | undefined;
  readonly timeoutMs?: number | undefined;
  readonly maxOutputTokens?: number | undefined;
  /** `chat` (Chat Completions, default) or `responses` (Responses API). */
  readonly api?: "chat" | "responses" | undefined;
  /** Ask for an SSE stream and assemble it; a stream that ends before its final event is `truncated`. */
  readonly stream?: boolean | undefined;
  /**
   * OpenAI strict structured outputs. Off by default: strict mode requires every
   * property to be required, which the catalog's optional inputs are not; the
   * planner validates every answer against the catalog itself.
   */
  readonly strict?: boolean | undefined;
  readonly defaultHeaders?: Readonly<Record<string, string>> | undefined;
  /** Reported as the answering provider (`codex` reuses this client). */
  readonly provider?: ProviderName | undefined;
  /** Responses API `store` flag; Codex requires false. */
  readonly store?: boolean | undefined;
}

type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

export class OpenAIClient implements LLMClient {
  readonly provider: ProviderName;
  readonly model: string;
  private readonly sdk: OpenAI;
  private readonly options: OpenAIClientOptions;

  constructor(options: OpenAIClientOptions) {
    this.options = options;
    this.provider = options.provider ?? "openai";
    this.model = options.model;
    this.sdk = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL ?? null,
      // The SDK reads these from the environment otherwise; configuration is explicit here.
      organization: null,
      project: null,
      webhookSecret: null,
      timeout: options.timeoutMs ?? 30_000,
      maxRetries: 0,
      ...(options.defaultHeaders ? { defaultHeaders: { ...options.defaultHeaders } } : {}),
    });
  }

  async complete(request: StructuredRequest): Promise<StructuredResponse> {
    try {
      return (this.options.api ?? "chat") === "responses"
        ? await this.viaResponses(request)
        : await this.viaChat(request);
    } catch (error) {
      throw toProviderError(this.provider, error);
    }
  }

  private async viaChat(request: StructuredRequest): Promise<StructuredResponse> {
    const messages: ChatMessage[] = [
      { role: "system", content: request.system },
      ...request.messages.map((m): ChatMessage => ({ role: m.role, content: m.content })),
    ];
    const body = {
      model: this.model,
      messages,
      max_completion_tokens: this.options.maxOutputTokens ?? 4096,
      response_format: {
        type: "json_schema" as const,
        json_schema: {
          name: request.schemaName,
          ...(request.schemaDescription ? { description: request.schemaDescription } : {}),
          schema: request.schema as Record<string, unknown>,
          strict: this.options.strict ?? false,
        },
      },
    };
    const opts = { signal: request.signal, maxRetries: 0 };
    if (!this.options.stream) {
      const completion = await this.sdk.chat.completions.create({ ...body, stream: false }, opts);
      const choice = completion.choices[0];
      if (choice?.message.refusal) {
        throw new ProviderError(this.provider, "refused", `the model refused: ${choice.message.refusal}`);
      }
      const text = choice?.message.content ?? "";
      return this.answer(text, {
        stopReason: choice?.finish_reason,
        requestId: completion.id,
        usage: completion.usage
          ? { input_tokens: completion.usage.prompt_tokens, output_tokens: completion.usage.completion_tokens }
          : undefined,
      });
    }
    const stream = await this.sdk.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      opts,
    );
    let text = "";
    let refusal = "";
    let finish: string | undefined;
    let id: string | undefined;
    let usage: StructuredResponse["usage"];
    for await (const chunk of stream) {
      id ??= chunk.id;
      const choice = chunk.choices[0];
      if (choice?.delta?.content) text += choice.delta.content;
      if (choice?.delta?.refusal) refusal += choice.delta.refusal;
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage)
        usage = { input_tokens: chunk.usage.prompt_tokens, output_tokens: chunk.usage.completion_tokens };
    }
    if (refusal) throw new ProviderError(this.provider, "refused", `the model refused: ${refusal}`);
    if (finish === undefined) {
      throw new ProviderError(this.provider, "truncated", "the stream ended before the final chunk (no finish_reason)");
    }
    return this.answer(text, { stopReason: finish, requestId: id, usage });
  }

  private async viaResponses(request: StructuredRequest): Promise<StructuredResponse> {
    const body = {
      model: this.model,
      instructions: request.system,
      input: request.messages.map((m) => ({ role: m.role, content: m.content })),
      max_output_tokens: this.options.maxOutputTokens ?? 4096,
      store: this.options.store ?? false,
      text: {
        format: {
          type: "json_schema" as const,
          name: request.schemaName,
          ...(request.schemaDescription ? { description: request.schemaDescription } : {}),
          schema: request.schema as Record<string, unknown>,
          strict: this.options.strict ?? false,
        },
      },
    };
    const opts = { signal: request.signal, maxRetries: 0 };
    if (!this.options.stream) {
      const response = await this.sdk.responses.create({ ...body, stream: false }, opts);
      if (response.status === "failed") {
        throw new ProviderError(
          this.provider,
          "server_error",
          `response failed: ${response.error?.message ?? "unknown"}`,
        );
      }
      return this.answer(response.output_text, {
        stopReason: response.status === "incomplete" ? (response.incomplete_details?.reason ?? "incomplete") : "stop",
        requestId: response.id,
        usage: response.usage
          ? { input_tokens: response.usage.input_tokens, output_tokens: response.usage.output_tokens }
          : undefined,
      });
    }
    const stream = await this.sdk.responses.create({ ...body, stream: true }, opts);
    let text = "";
    let done: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      switch (event.type) {
        case "response.output_text.delta":
          text += event.delta;
          break;
        case "response.completed":
        case "response.incomplete":
          done = event.response;
          break;
        case "response.failed":
          throw new ProviderError(
            this.provider,
            "server_error",
            `response failed: ${event.response.error?.message ?? "unknown"}`,
          );
        case "error":
          throw new ProviderError(this.provider, "server_error", `stream error: ${event.message}`);
        default:
          break;
      }
    }
    if (done === undefined) {
      throw new ProviderError(this.provider, "truncated", "the stream ended before response.completed");
    }
    // Some servers only put the text in the final event.
    const finalText = text || done.output_text || collectOutputText(done);
    return this.answer(finalText, {
      stopReason: done.status === "incomplete" ? (done.incomplete_details?.reason ?? "incomplete") : "stop",
      requestId: done.id,
      usage: done.usage
        ? { input_tokens: done.usage.input_tokens, output_tokens: done.usage.output_tokens }
        : undefined,
    });
  }

  private answer(
    text: string,
    meta: {
      stopReason?: string | null | undefined;
      requestId?: string | undefined;
      usage?: StructuredResponse["usage"];
    },
  ): StructuredResponse {
    const parsed = parseModelJson(text);
    return {
      provider: this.provider,
      model: this.model,
      text,
      json: parsed.json,
      parseError: parsed.parseError,
      stopReason: meta.stopReason ?? undefined,
      requestId: meta.requestId,
      usage: meta.usage,
    };
  }
}

function collectOutputText(response: OpenAI.Responses.Response): string {
  let text = "";
  for (const item of response.output ?? []) {
    if (item.type !== "message") continue;
    for (const part of item.content) if (part.type === "output_text") text += part.text;
  }
  return text;
}

/** Maps an SDK (or fetch) error to a `ProviderError` the router can act on. Shared with the Anthropic client. */
export function toProviderError(provider: ProviderName, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const e = error as {
    name?: string;
    status?: number;
    headers?: Headers;
    message?: string;
  };
  const name = e?.name ?? "";
  const message = e?.message ?? String(error);
  if (name === "APIUserAbortError" || name === "AbortError") {
    return new ProviderError(provider, "timeout", `request aborted: ${message}`, { cause: error });
  }
  if (name === "APIConnectionTimeoutError") {
    return new ProviderError(provider, "timeout", `request timed out: ${message}`, { cause: error });
  }
  // An HTTP answer is classified by its status, whatever its message says (Anthropic's 504 body is a
  // `timeout_error`; a 400 may name a `timeout` parameter): only a failure without one is read by its message.
  if (typeof e?.status === "number") {
    const status = e.status;
    const retryAfter = retryAfterMs(e.headers);
    if (status === 429) {
      return new ProviderError(provider, "rate_limited", `rate limited (429): ${message}`, {
        httpStatus: status,
        retryAfterMs: retryAfter,
        cause: error,
      });
    }
    if (status === 401 || status === 403) {
      return new ProviderError(provider, "auth", `authentication failed (${status}): ${message}`, {
        httpStatus: status,
        cause: error,
        fix: "check the provider credentials (llm.api_key, or the Codex auth file) and the model's access",
      });
    }
    if (status === 408 || status === 409 || status >= 500) {
      return new ProviderError(provider, "server_error", `server error (${status}): ${message}`, {
        httpStatus: status,
        retryAfterMs: retryAfter,
        cause: error,
      });
    }
    return new ProviderError(provider, "bad_request", `request rejected (${status}): ${message}`, {
      httpStatus: status,
      cause: error,
    });
  }
  if (/timed? ?out/i.test(message)) {
    return new ProviderError(provider, "timeout", `request timed out: ${message}`, { cause: error });
  }
  if (name === "APIConnectionError" || /terminated|ECONNRESET|socket|premature|fetch failed/i.test(message)) {
    // A stream cut in the middle surfaces as a connection error while reading the body.
    const failure = /terminated|premature|aborted/i.test(message) ? "truncated" : "network";
    return new ProviderError(provider, failure, `connection failed: ${message}`, { cause: error });
  }
  if (error instanceof SyntaxError || /JSON/i.test(message)) {
    return new ProviderError(provider, "truncated", `unreadable response: ${message}`, { cause: error });
  }
  return new ProviderError(provider, "network", message, { cause: error });
}

export type { JsonSchemaObject };

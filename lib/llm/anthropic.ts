/**
 * Anthropic structured output through the official SDK: the plan schema is the
 * `input_schema` of one tool and `tool_choice` forces the model to call it, so
 * the answer arrives as that tool call's input. Plain JSON or an SSE stream;
 * one HTTP attempt per call (`maxRetries: 0`).
 */
import Anthropic from "@anthropic-ai/sdk";
import { toProviderError } from "./openai.ts";
import {
  type LLMClient,
  ProviderError,
  parseModelJson,
  type StructuredRequest,
  type StructuredResponse,
} from "./types.ts";

export interface AnthropicClientOptions {
  readonly apiKey: string;
  readonly model: string;
  /** Config `api_base`. Tests point it at a local fixture server. */
  readonly baseURL?: string | undefined;
  readonly timeoutMs?: number | undefined;
  readonly maxOutputTokens?: number | undefined;
  readonly stream?: boolean | undefined;
}

export class AnthropicClient implements LLMClient {
  readonly provider = "anthropic" as const;
  readonly model: string;
  private readonly sdk: Anthropic;
  private readonly options: AnthropicClientOptions;

  constructor(options: AnthropicClientOptions) {
    this.options = options;
    this.model = options.model;
    this.sdk = new Anthropic({
      apiKey: options.apiKey,
      authToken: null,
      baseURL: options.baseURL ?? null,
      timeout: options.timeoutMs ?? 30_000,
      maxRetries: 0,
    });
  }

  async complete(request: StructuredRequest): Promise<StructuredResponse> {
    const body = {
      model: this.model,
      max_tokens: this.options.maxOutputTokens ?? 4096,
      system: request.system,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      tools: [
        {
          name: request.schemaName,
          description: request.schemaDescription ?? "Return the answer as this tool's input.",
          input_schema: request.schema as Anthropic.Messages.Tool.InputSchema,
        },
      ],
      tool_choice: { type: "tool" as const, name: request.schemaName },
    };
    const opts = { signal: request.signal, maxRetries: 0 };
    try {
      if (!this.options.stream) {
        const message = await this.sdk.messages.create({ ...body, stream: false }, opts);
        const toolUse = message.content.find((b) => b.type === "tool_use" && b.name === request.schemaName);
        if (toolUse && toolUse.type === "tool_use") {
          return this.answer(JSON.stringify(toolUse.input), toolUse.input, message);
        }
        // No tool call: the model answered in text; take it as (maybe) JSON for the planner to check.
        const text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
        const parsed = parseModelJson(text);
        return this.answer(text, parsed.json, message, parsed.parseError);
      }
      const stream = await this.sdk.messages.create({ ...body, stream: true }, opts);
      let toolJson = "";
      let text = "";
      let sawTool = false;
      let stop: string | undefined;
      let stopped = false;
      let id: string | undefined;
      let usage: { input_tokens?: number; output_tokens?: number } = {};
      for await (const event of stream) {
        switch (event.type) {
          case "message_start":
            id = event.message.id;
            usage = { input_tokens: event.message.usage.input_tokens };
            break;
          case "content_block_start":
            if (event.content_block.type === "tool_use") sawTool = true;
            break;
          case "content_block_delta":
            if (event.delta.type === "input_json_delta") toolJson += event.delta.partial_json;
            else if (event.delta.type === "text_delta") text += event.delta.text;
            break;
          case "message_delta":
            stop = event.delta.stop_reason ?? undefined;
            usage = { ...usage, output_tokens: event.usage.output_tokens };
            break;
          case "message_stop":
            stopped = true;
            break;
          default:
            break;
        }
      }
      if (!stopped) throw new ProviderError("anthropic", "truncated", "the stream ended before message_stop");
      const answerText = sawTool ? toolJson : text;
      const parsed = parseModelJson(answerText);
      return {
        provider: this.provider,
        model: this.model,
        text: answerText,
        json: parsed.json,
        parseError: parsed.parseError,
        stopReason: stop,
        requestId: id,
        usage,
      };
    } catch (error) {
      throw toProviderError("anthropic", error);
    }
  }

  private answer(
    text: string,
    json: unknown,
    message: Anthropic.Messages.Message,
    parseError?: string,
  ): StructuredResponse {
    return {
      provider: this.provider,
      model: this.model,
      text,
      json,
      parseError,
      stopReason: message.stop_reason ?? undefined,
      requestId: message.id,
      usage: { input_tokens: message.usage.input_tokens, output_tokens: message.usage.output_tokens },
    };
  }
}

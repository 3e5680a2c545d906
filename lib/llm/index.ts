/**
 * LLM access for the planner: provider clients on the official SDKs (OpenAI,
 * Anthropic, Codex via OAuth), a router with retries and ordered fallback,
 * and the redactor (lib/redact) every prompt passes through before it leaves the process.
 */
export { AnthropicClient, type AnthropicClientOptions } from "./anthropic.ts";
export {
  CODEX_API_BASE,
  CODEX_OAUTH_CLIENT_ID,
  CODEX_TOKEN_URL,
  type CodexAuthOptions,
  CodexClient,
  type CodexClientOptions,
  CodexTokenSource,
} from "./codex.ts";
export { OpenAIClient, type OpenAIClientOptions, toProviderError } from "./openai.ts";
export {
  AllProvidersFailedError,
  createLLMRouter,
  createProviderClient,
  DEFAULT_MODELS,
  type LLMRouter,
  type ProviderAttempt,
  type RoutedResponse,
  type RouterDeps,
} from "./router.ts";
export {
  type JsonSchemaObject,
  type LLMClient,
  type LLMMessage,
  ProviderError,
  type ProviderFailure,
  type ProviderName,
  parseModelJson,
  retryAfterMs,
  type StructuredRequest,
  type StructuredResponse,
} from "./types.ts";

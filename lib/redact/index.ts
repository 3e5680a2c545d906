/**
 * The one redaction library. Everything untrusted that the project records
 * or sends away goes through it first: plan intents, approval comments, alert
 * labels and annotations, webhook bodies, tool inputs and outputs, prompts to
 * an LLM provider, and every log line.
 *
 * Detectors: the project's own rules (`rules.ts`: context-keyed secrets,
 * cookies, connection strings, cloud and SaaS token shapes) followed by
 * secretlint's recommended preset (`secretlint.ts`). Placeholders are
 * `[REDACTED:<kind>:<n>]` within one request (`createRedactor`) and
 * `[REDACTED:<kind>]` for long-lived scrubbers (`createScrubber`).
 */
export {
  createLineScrubber,
  createRedactor,
  createScrubber,
  createSecretScrubber,
  defaultScrub,
  INJECTED_SECRET,
  isRedacted,
  type Redactor,
  type RedactorOptions,
  redact,
  redactDeep,
  type Scrub,
  type Span,
  secretLiterals,
  secretSpans,
} from "./redactor.ts";
export {
  compileRedactPatterns,
  DEFAULT_RULES,
  entropy,
  isReference,
  looksGenerated,
  PLACEHOLDER_PREFIX,
  type RedactionRule,
} from "./rules.ts";
export { SECRETLINT_RULE_IDS } from "./secretlint.ts";

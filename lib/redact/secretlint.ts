/**
 * secretlint's recommended preset (`@secretlint/secretlint-rule-preset-recommend`)
 * as a synchronous detector. Its rules are plain regular-expression scanners
 * written against secretlint's rule API (`create(context).file(source)`); we
 * give them a minimal context that collects their reports, instead of going
 * through `@secretlint/core`, whose `lintSource` is asynchronous and builds a
 * source-code object per call — too slow and too awkward for a logger and for
 * the gateway's hot path.
 *
 * Left out on purpose: the comment filter (`secretlint-disable` directives
 * would let whoever writes the text switch redaction off).
 */
import { rules as recommended } from "@secretlint/secretlint-rule-preset-recommend";
import type { SecretLintRuleContext, SecretLintRuleReportDescriptor, SecretLintSourceCode } from "@secretlint/types";

/** One secret a secretlint rule found: its kind (snake case of the rule's message id) and its exact text. */
export interface SecretlintFinding {
  readonly kind: string;
  readonly secret: string;
}

type FileHandler = (source: SecretLintSourceCode) => void | Promise<void>;

/** The message data field that holds the matched text, per rule convention (`KEY`, `TOKEN`, `ID`, `URI`, …). */
const DATA_FIELDS = ["KEY", "TOKEN", "ID", "URI", "URL", "CREDENTIAL"] as const;

/** `AWSSecretAccessKey` → `aws_secret_access_key`, `GITHUB_TOKEN` → `github_token`. */
export function kindOf(messageId: string): string {
  return messageId
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/__+/g, "_")
    .toLowerCase();
}

let sink: { content: string; findings: SecretlintFinding[] } | null = null;
let asynchronousResults = 0;

/** How many times a scanner answered with a promise (its findings would be lost); the tests keep this at 0. */
export function secretlintAsynchronousResults(): number {
  return asynchronousResults;
}

function report(descriptor: SecretLintRuleReportDescriptor): void {
  if (sink === null) return;
  const { messageId, data } = descriptor.message;
  const props = (data ?? {}) as Record<string, unknown>;
  let secret: string | undefined;
  for (const field of DATA_FIELDS) {
    const value = props[field];
    if (typeof value === "string" && value.length > 0 && sink.content.includes(value)) {
      secret = value;
      break;
    }
  }
  // Some rules report a range that starts at the key and has the secret's length: fall back to
  // the range only when the message carries no usable text, and widen it to the whole token.
  if (secret === undefined) {
    const [start, end] = descriptor.range;
    let stop = end;
    while (stop < sink.content.length && /[^\s"',;]/.test(sink.content[stop] ?? "")) stop++;
    secret = sink.content.slice(start, stop);
  }
  if (secret.length > 0) sink.findings.push({ kind: kindOf(messageId), secret });
}

const context: SecretLintRuleContext = {
  sharedOptions: {},
  createTranslator: (() => (messageId: string, data?: unknown) => ({
    message: messageId,
    messageId,
    data,
  })) as unknown as SecretLintRuleContext["createTranslator"],
  report,
  ignore: () => {},
};

const handlers: FileHandler[] = recommended
  .filter((rule) => rule.meta.type === "scanner" && !rule.meta.id.endsWith("filter-comments"))
  .map((rule) => rule.create(context, {}).file)
  .filter((file): file is FileHandler => file !== undefined);

/** The ids of the secretlint rules in use (for the docs and the tests). */
export const SECRETLINT_RULE_IDS: readonly string[] = recommended
  .filter((rule) => rule.meta.type === "scanner" && !rule.meta.id.endsWith("filter-comments"))
  .map((rule) => rule.meta.id);

function sourceOf(content: string): SecretLintSourceCode {
  // Only `content` is read by the text scanners; no file path keeps the GCP rule off the disk.
  return {
    hasBOM: false,
    content,
    filePath: undefined,
    physicalFilePath: undefined,
    contentType: "text",
    ext: "",
    getFilePath: () => undefined,
    getPhysicalFilePath: () => undefined,
    locationToRange: () => [0, 0],
    rangeToLocation: () => ({ start: { line: 1, column: 0 }, end: { line: 1, column: 0 } }),
    positionToIndex: () => 0,
    indexToPosition: () => ({ line: 1, column: 0 }),
  };
}

/** Runs every scanner of the preset over `content`, synchronously. */
export function scanWithSecretlint(content: string): SecretlintFinding[] {
  const findings: SecretlintFinding[] = [];
  const previous = sink;
  sink = { content, findings };
  try {
    const source = sourceOf(content);
    for (const file of handlers) {
      const pending = file(source);
      // No text scanner is asynchronous today; one that becomes so is counted, and the tests fail.
      if (pending instanceof Promise) {
        asynchronousResults++;
        pending.catch(() => {});
      }
    }
  } finally {
    sink = previous;
  }
  return findings;
}

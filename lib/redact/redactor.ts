/**
 * The redaction engine: the project's own rules, then secretlint's
 * recommended preset, over one text or every string of a JSON value.
 *
 * A `Redactor` is stateful on purpose: within one request the same secret
 * always becomes the same placeholder (`[REDACTED:github_token:1]`), so a plan
 * can refer to "the token in the alert" without anyone seeing it. There is no
 * way back from a placeholder to the secret, by design: nothing downstream
 * (planner, policy, executor, audit) ever needs the value.
 */
import { compileRedactPatterns, DEFAULT_RULES, PLACEHOLDER_PREFIX, type RedactionRule } from "./rules.ts";
import { scanWithSecretlint } from "./secretlint.ts";

export interface Redactor {
  /** Replaces every secret in `text` with its placeholder. */
  redact(text: string): string;
  /**
   * Redacts every string (and object key) inside a JSON-able value; a key name
   * counts as context for its value (`password: …`). Returns a new value.
   */
  redactValue<T>(value: T): T;
  /** How many distinct secrets this redactor has seen, by kind. */
  stats(): Readonly<Record<string, number>>;
}

export interface RedactorOptions {
  /**
   * `true` (default): one placeholder per distinct secret, numbered per kind,
   * for the lifetime of the redactor (one request). `false`: `[REDACTED:kind]`
   * without memory, for long-lived scrubbers such as a logger's.
   */
  readonly stable?: boolean | undefined;
}

/** A text-to-text scrubber (logs, tool output). */
export type Scrub = (text: string) => string;

interface CompiledRule extends RedactionRule {
  readonly re: RegExp;
}

function compile(rule: RedactionRule): CompiledRule {
  const flags = rule.pattern.flags.includes("d") ? rule.pattern.flags : `${rule.pattern.flags}d`;
  return { ...rule, re: new RegExp(rule.pattern.source, flags.includes("g") ? flags : `${flags}g`) };
}

const DEFAULT_COMPILED: readonly CompiledRule[] = DEFAULT_RULES.map(compile);

/**
 * A cheap test every default rule and every secretlint scanner implies: a long
 * token-like run, a URL with credentials, PEM armour, or a secret-ish word. A
 * text without any of them (most label values, short comments) skips the scan.
 */
const HINT =
  /[A-Za-z0-9_+/=.~:-]{16,}|:\/\/|-----BEGIN|pass|pwd|secret|token|key|auth|cred|cookie|session|sid|sig=|machine|(?:^|\s)(?:-u|--user)[ =]/i;

/**
 * What every scanner of secretlint's preset needs to find anything: a token of
 * 20 characters or more, credentials in a URL, PEM armour, or a key that says
 * secret followed by `:` or `=` on its line (`_authToken=…`: the preset's
 * context-keyed scanners all want one). Most ordinary text (an intent, a
 * comment, "rotate the api token") has none, and skips it. The tests hold this
 * true over the whole corpus.
 */
export const SECRETLINT_HINT = /[A-Za-z0-9_+=-]{20,}|:\/\/[^\s/@]*@|-----BEGIN|(?:secret|token|_key)[^\n:=]{0,40}[:=]/i;

/** Key names that give their value a secret's context in `redactValue`. */
const KEY_HINT = /pass|pwd|secret|token|key|auth|cred|cookie|session|sid|sig|private|cert|dsn|conn/i;

/** A command-line flag whose next argument is a secret (`["--token", "…"]`, `["--password", "…"]`). */
const SECRET_FLAG = /^--?[A-Za-z0-9-]*(?:pass|pwd|secret|token|key|auth|cred)[A-Za-z0-9-]*$/i;

const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/;
const PEM_END = /-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/;

export function isRedacted(text: string): boolean {
  return text.includes(PLACEHOLDER_PREFIX);
}

/**
 * A redactor for one request (or, with `stable: false`, for a log stream).
 * `patterns` are the configured `redact_patterns`, added to the defaults.
 */
export function createRedactor(patterns: readonly string[] = [], options: RedactorOptions = {}): Redactor {
  const custom = compileRedactPatterns(patterns).map(compile);
  const rules = [...DEFAULT_COMPILED, ...custom];
  const stable = options.stable ?? true;
  const placeholders = new Map<string, string>();
  const perKind = new Map<string, number>();

  const placeholderFor = (kind: string, secret: string): string => {
    if (!stable) return `${PLACEHOLDER_PREFIX}${kind}]`;
    const known = placeholders.get(secret);
    if (known !== undefined) return known;
    const n = (perKind.get(kind) ?? 0) + 1;
    perKind.set(kind, n);
    const placeholder = `${PLACEHOLDER_PREFIX}${kind}:${n}]`;
    placeholders.set(secret, placeholder);
    return placeholder;
  };

  const applyRule = (text: string, rule: CompiledRule): string => {
    if (rule.requires && !rule.requires.test(text)) return text;
    const re = rule.re;
    re.lastIndex = 0;
    let out = "";
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const span = m.indices?.groups?.s ?? m.indices?.[0];
      const secret = m.groups?.s ?? m[0];
      if (span === undefined || secret.length === 0 || span[0] < last) continue;
      if (rule.parts) {
        for (const [from, to] of rule.parts(secret)) {
          const part = secret.slice(from, to);
          if (part.length === 0 || part.includes(PLACEHOLDER_PREFIX)) continue;
          out += text.slice(last, span[0] + from) + placeholderFor(rule.name, part);
          last = span[0] + to;
        }
        continue;
      }
      if (secret.includes(PLACEHOLDER_PREFIX) || (rule.accept && !rule.accept(secret, m))) {
        // Rejected (`token: "webhook_secret": "…"`): the real secret may start inside this match.
        re.lastIndex = m.index + 1;
        continue;
      }
      out += text.slice(last, span[0]) + placeholderFor(rule.name, secret);
      last = span[1];
    }
    re.lastIndex = 0;
    return last === 0 ? text : out + text.slice(last);
  };

  const applySecretlint = (text: string): string => {
    if (!SECRETLINT_HINT.test(text)) return text;
    const findings = scanWithSecretlint(text)
      .filter((f) => f.secret.length >= 4 && !f.secret.includes(PLACEHOLDER_PREFIX))
      .sort((a, b) => b.secret.length - a.secret.length);
    let out = text;
    for (const { kind, secret } of findings) {
      if (out.includes(secret)) out = out.split(secret).join(placeholderFor(kind, secret));
    }
    return out;
  };

  const redact = (text: string): string => {
    if (text.length < 4) return text;
    if (custom.length === 0 && !HINT.test(text)) return text;
    let out = text;
    for (const rule of rules) out = applyRule(out, rule);
    return applySecretlint(out);
  };

  const redactDeep = (value: unknown, key: string): unknown => {
    if (typeof value === "string") {
      let out = redact(value);
      if (key !== "" && KEY_HINT.test(key) && !out.startsWith(PLACEHOLDER_PREFIX)) {
        const prefix = `${key}: `;
        const keyed = redact(prefix + out);
        if (keyed.startsWith(prefix)) out = keyed.slice(prefix.length);
      }
      return out;
    }
    if (Array.isArray(value)) {
      return value.map((item, i) => {
        const flag = value[i - 1];
        if (typeof item === "string" && typeof flag === "string" && SECRET_FLAG.test(flag)) {
          // An argv: the flag before a value is its context, as on a command line.
          const prefix = `${flag} `;
          const out = redact(prefix + item);
          if (out.startsWith(prefix) && out !== prefix + item) return out.slice(prefix.length);
        }
        return redactDeep(item, key);
      });
    }
    if (value !== null && typeof value === "object") {
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[redact(k)] = redactDeep(v, k);
      return out;
    }
    return value;
  };

  return {
    redact,
    redactValue<T>(value: T): T {
      return redactDeep(value, "") as T;
    },
    stats() {
      return Object.fromEntries(perKind);
    },
  };
}

/** One-shot redaction of `text` with the defaults plus `patterns`. */
export function redact(text: string, patterns: readonly string[] = []): string {
  return createRedactor(patterns).redact(text);
}

/** One-shot redaction of a JSON-able value (placeholders numbered within it). */
export function redactDeep<T>(value: T, patterns: readonly string[] = []): T {
  return createRedactor(patterns).redactValue(value);
}

/**
 * A memoryless scrubber for logs and tool output (`createLogger({ scrub })`):
 * `[REDACTED:kind]` without per-secret numbering, so it can live for the
 * whole process without holding on to the secrets it has seen.
 */
export function createScrubber(patterns: readonly string[] = []): Scrub {
  const redactor = createRedactor(patterns, { stable: false });
  return (text) => redactor.redact(text);
}

/**
 * A scrubber for output read one line at a time (a tool's stdout): `scrub`
 * for each line, and every line of a private key block redacted from its
 * BEGIN line to its END line, since no line of a key's body says what it is.
 * Stateful: one per stream.
 */
export function createLineScrubber(scrub: Scrub = defaultScrub): Scrub {
  let inKey = false;
  return (line) => {
    if (inKey) {
      if (PEM_END.test(line)) inKey = false;
      return inKey && line.trim() !== "" ? `${PLACEHOLDER_PREFIX}private_key]` : scrub(line);
    }
    if (PEM_BEGIN.test(line) && !PEM_END.test(line)) inKey = true;
    return scrub(line);
  };
}

/** The placeholder for a value the caller handed over as secret (a credential injected into a tool). */
export const INJECTED_SECRET = `${PLACEHOLDER_PREFIX}injected_secret]`;

/**
 * The exact values a scrubber masks for the secrets a caller handed over: each value of 4
 * characters or more, and each line of a multi-line value (output is often redacted one line at a
 * time, so a PEM key or a JSON credential would never match whole). Longest first, no duplicates.
 * Shorter values are left out: masking "a" everywhere would destroy the output without protecting
 * anything.
 */
export function secretLiterals(knownSecrets: Iterable<string>): string[] {
  const values: string[] = [];
  for (const secret of knownSecrets) {
    values.push(secret);
    if (/[\r\n]/.test(secret)) for (const line of secret.split(/\r?\n|\r/)) values.push(line.trim());
  }
  return [...new Set(values.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
}

/** A half-open range `[start, end)` of a text or a byte buffer. */
export type Span = readonly [start: number, end: number];

/**
 * Where `needles` occur in `text` (a string, or a Buffer with Buffer needles), every occurrence
 * counted, overlapping ones too, as sorted spans; occurrences that overlap are merged into one span,
 * so that masking the spans leaves no part of any occurrence. `coveredPrefix` marks the first bytes
 * as covered already (the rest of a secret whose start was cut off with an earlier piece).
 */
export function secretSpans(text: string, needles: readonly string[], coveredPrefix?: number): Span[];
export function secretSpans(text: Buffer, needles: readonly Buffer[], coveredPrefix?: number): Span[];
export function secretSpans(text: string | Buffer, needles: readonly (string | Buffer)[], coveredPrefix = 0): Span[] {
  // The overloads pair a string with strings and a Buffer with Buffers.
  const indexOf = text.indexOf.bind(text) as (needle: string | Buffer, from: number) => number;
  const found: Span[] = coveredPrefix > 0 ? [[0, coveredPrefix]] : [];
  for (const needle of needles) {
    if (needle.length === 0) continue;
    for (let at = indexOf(needle, 0); at !== -1; at = indexOf(needle, at + 1)) {
      found.push([at, at + needle.length]);
    }
  }
  if (found.length <= 1) return found;
  found.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: [number, number][] = [];
  for (const [start, end] of found) {
    const last = merged.at(-1);
    if (last !== undefined && start < last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/**
 * A scrubber for one tool call: the exact values of the credentials the
 * sandbox injected into it (so a tool that echoes its own token cannot leak
 * it, whatever its shape; see `secretLiterals`), then every detector. Two
 * values that overlap in the text are masked together, so no part of either
 * is left.
 */
export function createSecretScrubber(knownSecrets: Iterable<string> = [], patterns: readonly string[] = []): Scrub {
  const literals = secretLiterals(knownSecrets);
  const scrub = patterns.length === 0 ? defaultScrub : createScrubber(patterns);
  return (text: string) => scrub(literals.length === 0 ? text : maskSpans(text, secretSpans(text, literals)));
}

/** `text` with every span replaced by `INJECTED_SECRET`. */
function maskSpans(text: string, spans: readonly Span[]): string {
  if (spans.length === 0) return text;
  let out = "";
  let last = 0;
  for (const [start, end] of spans) {
    out += text.slice(last, start) + INJECTED_SECRET;
    last = end;
  }
  return out + text.slice(last);
}

/** The default memoryless scrubber: every detector, no configured patterns. */
export const defaultScrub: Scrub = createScrubber();

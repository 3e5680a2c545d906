/**
 * Secret redaction for everything that leaves the process: prompts, context
 * and evidence sent to an LLM provider, log lines, tool sandbox output.
 *
 * A `Redactor` is stateful on purpose: within one request the same secret
 * always becomes the same placeholder (`[REDACTED:github_token:1]`), so a
 * plan can refer to "the token in the alert" without anyone seeing it. There
 * is no way back from a placeholder to the secret, by design: nothing
 * downstream (planner, policy, executor) ever needs the value.
 */
import { ConfigError } from "../errors/index.ts";

/** One detector: a global regular expression with a named group `s` marking the secret (or the whole match). */
export interface RedactionRule {
  /** Becomes the placeholder kind: `[REDACTED:<name>:n]`. */
  readonly name: string;
  readonly pattern: RegExp;
  /** Extra check on the candidate secret (entropy, decoding); false leaves it alone. */
  readonly accept?: (secret: string) => boolean;
}

export interface Redactor {
  /** Replaces every secret in `text` with its placeholder. */
  redact(text: string): string;
  /** Redacts a JSON-able value by its JSON text, so key names (`"password": ...`) count as context. */
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

const PLACEHOLDER_PREFIX = "[REDACTED:";

/** Shannon entropy in bits per character. */
export function entropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** A value that names where a secret lives rather than holding it. */
function isReference(value: string): boolean {
  return (
    value.startsWith(PLACEHOLDER_PREFIX) ||
    /^(env:|file:|vault:|secretref:|ref\+|arn:aws:secretsmanager:)/i.test(value) ||
    /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(value) ||
    /^\{\{.*\}\}$/.test(value) ||
    /^<[^>]*>$/.test(value) ||
    /^(\*+|x+|X+|\.\.\.|redacted|changeme|none|null|true|false|yes|no|required|optional|secret|password)$/i.test(value)
  );
}

/** Looks like machine-generated secret material rather than a name, a word or a path. */
function looksGenerated(value: string): boolean {
  if (value.length < 12 || isReference(value)) return false;
  // Kubernetes object names and plain identifiers: lower-case words and dashes.
  if (/^[a-z][a-z-]*[a-z]$/.test(value) || /^[a-z]+(_[a-z]+)*$/.test(value)) return false;
  if (/^[0-9]+$/.test(value)) return false;
  if (/^(https?:\/\/|\/|\.\/)/.test(value) && !/[?&](sig|token|key|secret)=/i.test(value)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(value)).length;
  return classes >= 2 && entropy(value) >= 3.0;
}

function decodesToPrivateKey(b64: string): boolean {
  const head = Buffer.from(b64.slice(0, 64), "base64").toString("latin1");
  return /PRIVATE KEY/.test(head);
}

/**
 * Key names whose value is a secret. A suffix such as `_name`, `_ref`, `_path`
 * or `Ref` makes the key point at a secret instead (`secretName`, `token_url`),
 * and those are left alone.
 */
const SECRET_KEY =
  "[A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key|client[_-]?secret|credentials?|auth(?!or))(?:[_.-]?(?:key|value|data|string))?";
const NOT_A_SECRET_KEY_SUFFIX =
  "(?![A-Za-z0-9_.-]*?(?:[_.-]?(?:name|names|ref|refs|path|file|url|uri|ttl|type|id|ids|length|expires?|expiry|count|version|mount|kind|header|field|prefix|endpoint|policy|method|provider|secretname|keyref|mode|enabled|required|rotation)))";

/**
 * The default detectors, most specific first so a GitHub token is reported as
 * `github_token`, not as a generic secret.
 */
export const DEFAULT_RULES: readonly RedactionRule[] = [
  {
    name: "private_key",
    pattern:
      /(?<s>-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|(?:\\n|\\r|[\sA-Za-z0-9+/=:,-])+))/g,
  },
  {
    name: "private_key",
    // A PEM private key, base64-encoded again: Kubernetes Secret data, kubeconfig client-key-data.
    pattern: /(?<s>LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}={0,2})/g,
    accept: decodesToPrivateKey,
  },
  { name: "aws_access_key_id", pattern: /(?<![A-Z0-9])(?<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Z0-9])/g },
  {
    name: "aws_secret_access_key",
    pattern:
      /(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key|SecretAccessKey|aws_secret)(?:\\?["'])?[ \t]*(?:[:=]|=>)[ \t]*(?:\\?["'])?(?<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
  },
  {
    name: "aws_session_token",
    pattern:
      /(?:aws_?session_?token|SessionToken|security_?token)(?:\\?["'])?[ \t]*(?:[:=]|=>)[ \t]*(?:\\?["'])?(?<s>[A-Za-z0-9/+=]{80,})/gi,
  },
  { name: "gcp_api_key", pattern: /(?<![A-Za-z0-9_-])(?<s>AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])/g },
  { name: "gcp_oauth_secret", pattern: /(?<s>GOCSPX-[A-Za-z0-9_-]{28})/g },
  { name: "gcp_access_token", pattern: /(?<![A-Za-z0-9])(?<s>ya29\.[0-9A-Za-z_-]{20,})/g },
  { name: "gcp_private_key_id", pattern: /"private_key_id"\s*:\s*"(?<s>[a-f0-9]{40})"/g },
  { name: "azure_storage_key", pattern: /(?:AccountKey|SharedAccessKey)\s*=\s*(?<s>[A-Za-z0-9+/]{30,}={0,2})/g },
  { name: "azure_sas_signature", pattern: /[?&]sig=(?<s>[A-Za-z0-9%+/=]{20,})/g },
  {
    name: "azure_client_secret",
    pattern: /(?<![A-Za-z0-9_~.-])(?<s>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])/g,
  },
  { name: "github_token", pattern: /(?<![A-Za-z0-9_])(?<s>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})/g },
  { name: "github_token", pattern: /(?<![A-Za-z0-9_])(?<s>github_pat_[A-Za-z0-9_]{50,255})/g },
  {
    name: "gitlab_token",
    pattern: /(?<![A-Za-z0-9_-])(?<s>(?:glpat|gldt|glrt|glptt|glsoat|glft|glimt)-[A-Za-z0-9_-]{20,})/g,
  },
  { name: "gitlab_token", pattern: /(?<![A-Za-z0-9])(?<s>GR1348941[A-Za-z0-9_-]{20,})/g },
  { name: "slack_token", pattern: /(?<![A-Za-z0-9])(?<s>xox[abprse]-[A-Za-z0-9-]{10,})/g },
  { name: "slack_token", pattern: /(?<![A-Za-z0-9])(?<s>xapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{20,})/g },
  {
    name: "slack_webhook",
    pattern: /(?<s>https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/-]{20,})/g,
  },
  { name: "stripe_key", pattern: /(?<![A-Za-z0-9])(?<s>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})/g },
  { name: "stripe_webhook_secret", pattern: /(?<![A-Za-z0-9])(?<s>whsec_[A-Za-z0-9+/=]{24,})/g },
  { name: "anthropic_key", pattern: /(?<![A-Za-z0-9])(?<s>sk-ant-[a-z]{3,6}\d{2}-[A-Za-z0-9_-]{40,})/g },
  {
    name: "openai_key",
    pattern: /(?<![A-Za-z0-9-])(?<s>sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,})/g,
    accept: (s) => /[0-9]/.test(s) && /[A-Z]/.test(s),
  },
  { name: "sendgrid_key", pattern: /(?<s>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})/g },
  { name: "npm_token", pattern: /(?<![A-Za-z0-9])(?<s>npm_[A-Za-z0-9]{36})/g },
  { name: "vault_token", pattern: /(?<![A-Za-z0-9])(?<s>hv[sbr]\.[A-Za-z0-9_-]{24,})/g },
  {
    name: "vault_token",
    pattern: /(?<![A-Za-z0-9.])(?<s>[sbr]\.[A-Za-z0-9]{24})(?![A-Za-z0-9])/g,
    accept: (s) => /[0-9]/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s.slice(2)),
  },
  {
    name: "jwt",
    pattern: /(?<![A-Za-z0-9_-])(?<s>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{0,})/g,
  },
  {
    name: "url_password",
    pattern: /\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@"'<>]{0,128}:(?<s>[^\s@/"'<>]{1,256})@/gi,
    accept: (s) => !isReference(s),
  },
  {
    name: "bearer_token",
    pattern: /\b(?:Bearer|Token)\s+(?<s>[A-Za-z0-9._~+/-]{16,}=*)/g,
    accept: (s) => !s.startsWith(PLACEHOLDER_PREFIX) && /[0-9]/.test(s) && /[A-Za-z]/.test(s),
  },
  {
    name: "basic_auth",
    pattern: /\bAuthorization["']?\s*:\s*["']?Basic\s+(?<s>[A-Za-z0-9+/]{8,}={0,2})/gi,
  },
  {
    name: "kubeconfig_credential",
    pattern:
      /^[ \t-]*(?:token|id-token|refresh-token|access-token|client-key-data|client-secret)\s*:\s*["']?(?<s>[^\s"']{8,})/gm,
    accept: (s) => !isReference(s),
  },
  {
    name: "password",
    // Connection strings and env files: `Password=...;`, `DB_PASSWORD=...`, `"password": "..."`.
    pattern: new RegExp(
      `(?<![A-Za-z0-9])[A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|pwd)${NOT_A_SECRET_KEY_SUFFIX}[A-Za-z0-9_.-]*(?:\\\\?["'])?[ \\t]*(?:[:=]|=>)[ \\t]*(?:\\\\?["'])?(?<s>[^\\s"',;{}()\\[\\]\\\\]{3,256})`,
      "gi",
    ),
    accept: (s) => !isReference(s) && !s.startsWith("<") && !/^[0-9]{1,3}$/.test(s),
  },
  {
    name: "secret",
    // `API_KEY=...`, `secret: ...`, `"client_secret": "..."`: only values that look machine-generated.
    pattern: new RegExp(
      `(?<![A-Za-z0-9])${SECRET_KEY}${NOT_A_SECRET_KEY_SUFFIX}[A-Za-z0-9_.-]*(?:\\\\?["'])?[ \\t]*(?:[:=]|=>)[ \\t]*(?:\\\\?["'])?(?<s>[^\\s"',;{}()\\[\\]<>\\\\]{12,512})`,
      "gi",
    ),
    accept: looksGenerated,
  },
];

/**
 * Compiles configured `redact_patterns`. A pattern with a named group `s`
 * (`token=(?<s>\\w+)`) redacts just that part; otherwise the whole match.
 * An invalid pattern is a `ConfigError` naming `llm.redact_patterns[i]`.
 */
export function compileRedactPatterns(patterns: readonly string[], field = "llm.redact_patterns"): RedactionRule[] {
  return patterns.map((source, i) => {
    let re: RegExp;
    try {
      re = new RegExp(source, "g");
    } catch (cause) {
      throw new ConfigError(`${field}[${i}] is not a valid regular expression: ${(cause as Error).message}`, [
        { field: `${field}[${i}]`, message: "invalid regular expression", fix: "write a JavaScript RegExp source" },
      ]);
    }
    if (re.test("")) {
      throw new ConfigError(`${field}[${i}] matches the empty string`, [
        {
          field: `${field}[${i}]`,
          message: "matches the empty string",
          fix: "make the pattern match at least one character",
        },
      ]);
    }
    const wrapped = /\(\?<s>/.test(source) ? re : new RegExp(`(?<s>${source})`, "g");
    return { name: "custom", pattern: wrapped };
  });
}

/**
 * A redactor for one request (or, with `stable: false`, for a log stream).
 * `patterns` are the configured `redact_patterns`, added to the defaults.
 */
export function createRedactor(patterns: readonly string[] = [], options: RedactorOptions = {}): Redactor {
  const rules = [...DEFAULT_RULES, ...compileRedactPatterns(patterns)];
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

  const applyRule = (text: string, rule: RedactionRule): string => {
    const re = new RegExp(
      rule.pattern.source,
      rule.pattern.flags.includes("d") ? rule.pattern.flags : `${rule.pattern.flags}d`,
    );
    let out = "";
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const span = m.indices?.groups?.s ?? m.indices?.[0];
      const secret = m.groups?.s ?? m[0];
      if (span === undefined || secret.length === 0) continue;
      if (secret.startsWith(PLACEHOLDER_PREFIX) || secret.includes(PLACEHOLDER_PREFIX)) continue;
      if (rule.accept && !rule.accept(secret)) continue;
      out += text.slice(last, span[0]) + placeholderFor(rule.name, secret);
      last = span[1];
    }
    return last === 0 ? text : out + text.slice(last);
  };

  const redact = (text: string): string => {
    let out = text;
    for (const rule of rules) out = applyRule(out, rule);
    return out;
  };

  return {
    redact,
    redactValue<T>(value: T): T {
      return redactDeep(value, "", redact) as T;
    },
    stats() {
      return Object.fromEntries(perKind);
    },
  };
}

/**
 * Walks a JSON-able value. Each string is redacted on its own and once more
 * behind its key (`password: <value>`), so key names count as context the
 * way they do in an env file, without ever cutting through JSON escaping.
 */
function redactDeep(value: unknown, key: string, redactText: (text: string) => string): unknown {
  if (typeof value === "string") {
    let out = redactText(value);
    if (key !== "" && !out.startsWith(PLACEHOLDER_PREFIX)) {
      const prefix = `${key}: `;
      const keyed = redactText(prefix + out);
      if (keyed.startsWith(prefix)) out = keyed.slice(prefix.length);
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, key, redactText));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, k, redactText);
    return out;
  }
  return value;
}

/** One-shot redaction of `text` with the defaults plus `patterns`. */
export function redact(text: string, patterns: readonly string[] = []): string {
  return createRedactor(patterns).redact(text);
}

/**
 * A memoryless scrubber for logs and tool output (`createLogger({ scrub })`):
 * `[REDACTED:kind]` without per-secret numbering, so it can live for the
 * whole process without holding on to the secrets it has seen.
 */
export function createScrubber(patterns: readonly string[] = []): (text: string) => string {
  const redactor = createRedactor(patterns, { stable: false });
  return (text) => redactor.redact(text);
}

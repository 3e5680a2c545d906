/**
 * The project's own detectors. They run before secretlint's recommended
 * preset (see `secretlint.ts`) and cover what it leaves out: context-keyed
 * secrets (`password: …`, `SECRET_KEY = '…'`, `routing_key: …`), cookies,
 * connection strings with any scheme, cloud keys beyond AWS's access key, and
 * the shapes of the tools this project drives (Vault, Argo CD, PagerDuty).
 *
 * Rules never look at hex digests, UUIDs or ids on their own: a 32- or
 * 64-character hex string is only a secret behind a key that says so.
 */
import { ConfigError } from "../errors/index.ts";

/** One detector: a global regular expression with a named group `s` marking the secret (or the whole match). */
export interface RedactionRule {
  /** Becomes the placeholder kind: `[REDACTED:<name>:n]`. */
  readonly name: string;
  readonly pattern: RegExp;
  /** Extra check on the candidate secret (entropy, decoding); false leaves it alone. */
  readonly accept?: (secret: string, match: RegExpExecArray) => boolean;
  /**
   * A cheap test that every text the pattern can match passes (a `:` or `=` the pattern cannot
   * do without): a text that fails it skips the rule's scan, which for the context-keyed rules is
   * most of the redactor's time on ordinary text.
   */
  readonly requires?: RegExp;
  /**
   * The parts of the matched secret to redact, as [start, end) offsets into it,
   * when one match holds several (the values of a cookie header). Default: all of it.
   */
  readonly parts?: (secret: string) => readonly (readonly [number, number])[];
}

export const PLACEHOLDER_PREFIX = "[REDACTED:";

/** For `requires`: the rule's pattern has a `:` or `=` outside any optional part. */
const HAS_ASSIGNMENT = /[:=]/;

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
export function isReference(value: string): boolean {
  return (
    value.startsWith(PLACEHOLDER_PREFIX) ||
    /^(env:|file:|vault:|secretref:|ref\+|arn:aws:secretsmanager:|@\/|@\.)/i.test(value) ||
    /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(value) ||
    /^\{\{.*\}\}$/.test(value) ||
    /^<[^>]*>$/.test(value) ||
    /^(\*+|x+|X+|\.\.\.|redacted|changeme|none|null|true|false|yes|no|required|optional|secret|password)$/i.test(value)
  );
}

/** Looks like machine-generated secret material rather than a name, a word or a path. */
export function looksGenerated(value: string): boolean {
  if (value.length < 12 || isReference(value)) return false;
  // Kubernetes object names and plain identifiers: lower-case words and dashes.
  if (/^[a-z][a-z-]*[a-z]$/.test(value) || /^[a-z]+(_[a-z]+)*$/.test(value)) return false;
  if (/^[0-9]+$/.test(value)) return false;
  // Another key (`CLOUDFLARE_API_TOKEN:`) or an environment variable's name; base64 may end in `=`, not `:`.
  if (value.endsWith(":") || /^[A-Z][A-Z_]*[A-Z]$/.test(value)) return false;
  if (/^(https?:\/\/|\/|\.\/)/.test(value) && !/[?&](sig|token|key|secret)=/i.test(value)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(value)).length;
  return classes >= 2 && entropy(value) >= 3.0;
}

/** The text just before a key names a digest of it (`checksum/secret: <sha256>`), not the secret itself. */
function afterDigestWord(m: RegExpExecArray): boolean {
  const before = m.input.slice(Math.max(0, m.index - 24), m.index);
  return /(?:checksum|hash|digest|sha\d*|fingerprint|integrity)[/_.-]?$/i.test(before);
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
  "[A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key|client[_-]?secret|credentials?|auth(?!or)|(?:app|application|routing|integration|service|license|admin|webhook|deploy|consumer|subscription|instrumentation|ingest|account|storage|shared|sas)[_-]?key)(?:[_.-]?(?:key|value|data|string))?";
const NOT_A_SECRET_KEY_SUFFIX =
  "(?![A-Za-z0-9_.-]*?(?:[_.-]?(?:name|names|ref|refs|path|file|url|uri|ttl|type|id|ids|length|expires?|expiry|count|version|mount|kind|header|field|prefix|endpoint|policy|method|provider|secretname|keyref|mode|enabled|required|rotation|sha\\d*|hash|digest|checksum|fingerprint)))";
/** Between a key and its value: optional closing quote, `:`, `=` or `=>`, optional opening quote. */
const ASSIGN = "(?:\\\\?[\"'])?[ \\t]*(?:[:=]|=>)[ \\t]*";
/** Session and auth cookie names. */
const SESSION_COOKIE =
  "(?:[A-Za-z0-9_.-]*session(?:[_.-]?(?:id|token|key))?|sessid|sid|connect\\.sid|JSESSIONID|PHPSESSID|ASP\\.NET_SessionId|remember_[A-Za-z_]*token|argocd\\.token|csrftoken|_csrf|XSRF-TOKEN|auth[_-]?token|access[_-]?token|refresh[_-]?token|id[_-]?token)";
const COOKIE_ATTRIBUTE =
  /^(path|domain|expires|max-age|samesite|secure|httponly|priority|partitioned|version|comment)$/i;

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
  {
    name: "private_key",
    // An OpenSSH or PuTTY key body without its armour (a line of a key pasted alone).
    pattern: /(?<s>b3BlbnNzaC1rZXktdjE[A-Za-z0-9+/=]{20,})/g,
  },
  {
    name: "aws_access_key_id",
    pattern: /(?<![A-Z0-9])(?<s>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})(?![A-Z0-9])/g,
  },
  {
    name: "aws_secret_access_key",
    requires: HAS_ASSIGNMENT,
    pattern:
      /(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key|SecretAccessKey|aws_secret)(?:\\?["'])?[ \t]*(?:[:=]|=>)[ \t]*(?:\\?["'])?(?<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
  },
  {
    name: "aws_session_token",
    requires: HAS_ASSIGNMENT,
    pattern:
      /(?:aws_?session_?token|SessionToken|security_?token)(?:\\?["'])?[ \t]*(?:[:=]|=>)[ \t]*(?:\\?["'])?(?<s>[A-Za-z0-9/+=]{80,})/gi,
  },
  { name: "aws_session_token", pattern: /(?<![A-Za-z0-9/+=])(?<s>IQoJb3JpZ2luX2Vj[A-Za-z0-9/+=]{60,})/g },
  { name: "gcp_api_key", pattern: /(?<![A-Za-z0-9_-])(?<s>AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])/g },
  { name: "gcp_oauth_secret", pattern: /(?<s>GOCSPX-[A-Za-z0-9_-]{28})/g },
  { name: "gcp_access_token", pattern: /(?<![A-Za-z0-9])(?<s>ya29\.[0-9A-Za-z_-]{20,})/g },
  {
    name: "gcp_private_key_id",
    requires: HAS_ASSIGNMENT,
    pattern: /\\?"private_key_id\\?"\s*:\s*\\?"(?<s>[a-f0-9]{40})\\?"/g,
  },
  {
    name: "azure_storage_key",
    requires: HAS_ASSIGNMENT,
    pattern: /(?:AccountKey|SharedAccessKey)\s*=\s*(?<s>[A-Za-z0-9+/]{30,}={0,2})/g,
  },
  { name: "azure_sas_signature", requires: HAS_ASSIGNMENT, pattern: /[?&]sig=(?<s>[A-Za-z0-9%+/=]{20,})/g },
  {
    name: "azure_client_secret",
    pattern: /(?<![A-Za-z0-9_~.-])(?<s>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])/g,
  },
  { name: "github_token", pattern: /(?<![A-Za-z0-9_])(?<s>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})/g },
  { name: "github_token", pattern: /(?<![A-Za-z0-9_])(?<s>github_pat_[A-Za-z0-9_]{50,255})/g },
  {
    name: "gitlab_token",
    pattern:
      /(?<![A-Za-z0-9_-])(?<s>(?:glpat|gldt|glrt|glptt|glsoat|glft|glimt|glagent|gloas|glcbt)-[A-Za-z0-9_-]{20,})/g,
  },
  { name: "gitlab_token", pattern: /(?<![A-Za-z0-9])(?<s>GR1348941[A-Za-z0-9_-]{20,})/g },
  { name: "grafana_token", pattern: /(?<![A-Za-z0-9_])(?<s>gl(?:sa|c)_[A-Za-z0-9_=+/-]{32,})/g },
  { name: "slack_token", pattern: /(?<![A-Za-z0-9])(?<s>xox[abprse]-[A-Za-z0-9-]{10,})/g },
  { name: "slack_token", pattern: /(?<![A-Za-z0-9])(?<s>xapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{20,})/g },
  {
    name: "slack_webhook",
    pattern: /(?<s>https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/-]{20,})/g,
  },
  { name: "stripe_key", pattern: /(?<![A-Za-z0-9])(?<s>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})/g },
  { name: "stripe_webhook_secret", pattern: /(?<![A-Za-z0-9])(?<s>whsec_[A-Za-z0-9+/=]{24,})/g },
  { name: "twilio_api_key", pattern: /(?<![A-Za-z0-9])(?<s>SK[0-9a-f]{32})(?![A-Za-z0-9])/g },
  { name: "mailgun_key", pattern: /(?<![A-Za-z0-9])(?<s>key-[0-9a-f]{32})(?![A-Za-z0-9])/g },
  { name: "pypi_token", pattern: /(?<![A-Za-z0-9])(?<s>pypi-Ag[A-Za-z0-9_-]{50,})/g },
  { name: "docker_token", pattern: /(?<![A-Za-z0-9])(?<s>dckr_pat_[A-Za-z0-9_-]{20,})/g },
  { name: "newrelic_key", pattern: /(?<![A-Za-z0-9])(?<s>NR(?:AK|II|JS)-[A-Za-z0-9]{27,})/g },
  {
    name: "telegram_bot_token",
    requires: HAS_ASSIGNMENT,
    pattern: /(?<![0-9])(?<s>\d{8,10}:AA[0-9A-Za-z_-]{33})(?![A-Za-z0-9_-])/g,
  },
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
    name: "pagerduty_key",
    // Events API v1 URLs carry the integration key in the path.
    pattern: /events\.pagerduty\.com\/(?:integration|x-ere)\/(?<s>[A-Za-z0-9]{20,})/g,
  },
  {
    name: "pagerduty_key",
    // REST API: `Authorization: Token token=<key>`.
    requires: HAS_ASSIGNMENT,
    pattern: /\bToken\s+token=(?<s>[A-Za-z0-9_+-]{16,})/g,
  },
  {
    name: "pagerduty_key",
    requires: HAS_ASSIGNMENT,
    pattern:
      /(?<![A-Za-z0-9])(?:pagerduty|pd)[A-Za-z0-9_.-]{0,30}?(?:key|token)(?:\\?["'])?[ \t]*(?:[:=]|=>)[ \t]*(?:\\?["'])?(?<s>[A-Za-z0-9_+-]{20,})/gi,
  },
  {
    name: "jwt",
    // `{"` encodes to `eyJ`, `{ "` to `eyA`, `{\n` to `ewo`: every JSON header and payload starts so.
    pattern: /(?<![A-Za-z0-9_-])(?<s>e[wy][A-Za-z0-9_-]{8,}\.e[wy][A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)/g,
  },
  {
    name: "url_password",
    requires: HAS_ASSIGNMENT,
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
    requires: HAS_ASSIGNMENT,
    pattern: /\bAuthorization["']?\s*:\s*["']?Basic\s+(?<s>[A-Za-z0-9+/]{8,}={0,2})/gi,
  },
  {
    name: "basic_auth",
    // `curl -u user:password`, `--user user:password`.
    requires: HAS_ASSIGNMENT,
    pattern: /(?:^|\s)(?:-u|--user)[ =]["']?[^\s:"']{1,64}:(?<s>[^\s"']{4,256})/g,
    accept: (s) => !isReference(s),
  },
  {
    name: "password",
    // Command-line flags: `--password hunter2`, `--token=…`, `--client-secret …`.
    pattern:
      /(?:^|\s)--?(?:[a-z]+-)*(?:password|passwd|pass|token|secret|api-key|apikey|access-key|secret-key|client-secret)[ =]["']?(?<s>[^\s"']{4,512})/gi,
    // Not `--token DJANGO_SECRET_KEY="…"`: there the next word is a key, and its value the secret.
    accept: (s) => !isReference(s) && !s.startsWith("-") && !/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+[=:]$/.test(s),
  },
  {
    name: "password",
    // .netrc: `machine host login user password secret`.
    pattern: /\bmachine\s+\S+\s+login\s+\S+\s+password\s+(?<s>\S+)/g,
  },
  {
    name: "session_cookie",
    // Every value in a Cookie or Set-Cookie header, whatever its name, except the attributes.
    requires: HAS_ASSIGNMENT,
    pattern: /\b(?:set-)?cookie[ \t]*:[ \t]*(?<s>[^\n]+)/gi,
    parts: cookieValues,
  },
  {
    name: "session_cookie",
    requires: HAS_ASSIGNMENT,
    pattern: new RegExp(
      `(?<![A-Za-z0-9_.-])${SESSION_COOKIE}(?:\\\\?["'])?[ \\t]*(?:=|:)[ \\t]*(?:\\\\?["'])?(?<s>[^\\s;"',&<>]{16,})`,
      "gi",
    ),
    accept: looksGenerated,
  },
  {
    name: "kubeconfig_credential",
    requires: HAS_ASSIGNMENT,
    pattern:
      /^[ \t-]*(?:token|id-token|refresh-token|access-token|client-key-data|client-secret)\s*:\s*["']?(?<s>[^\s"']{8,})/gm,
    accept: (s) => !isReference(s),
  },
  {
    name: "password",
    // A quoted value behind a password key may hold anything but its own quote.
    requires: HAS_ASSIGNMENT,
    pattern: new RegExp(
      `(?<![A-Za-z0-9])[A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|pwd)${NOT_A_SECRET_KEY_SUFFIX}[A-Za-z0-9_.-]*${ASSIGN}(?<q>\\\\?["'])(?<s>[^"'\\n\\\\]{3,256})\\k<q>`,
      "gi",
    ),
    accept: (s, m) => !isReference(s) && !/^[0-9]{1,3}$/.test(s) && !afterDigestWord(m),
  },
  {
    name: "password",
    // Connection strings and env files: `Password=...;`, `DB_PASSWORD=...`, `"password": "..."`.
    requires: HAS_ASSIGNMENT,
    pattern: new RegExp(
      `(?<![A-Za-z0-9])[A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|pwd)${NOT_A_SECRET_KEY_SUFFIX}[A-Za-z0-9_.-]*${ASSIGN}(?:\\\\?["'])?(?<s>[^\\s"',;{}()\\[\\]\\\\]{3,256})`,
      "gi",
    ),
    accept: (s, m) => !isReference(s) && !s.startsWith("<") && !/^[0-9]{1,3}$/.test(s) && !afterDigestWord(m),
  },
  {
    name: "secret",
    // Django's `SECRET_KEY = '…'` and friends: a quoted generated value may hold any punctuation.
    requires: HAS_ASSIGNMENT,
    pattern: new RegExp(
      `(?<![A-Za-z0-9])${SECRET_KEY}${NOT_A_SECRET_KEY_SUFFIX}[A-Za-z0-9_.-]*${ASSIGN}(?<q>\\\\?["'])(?<s>[^"'\\n\\\\]{12,512})\\k<q>`,
      "gi",
    ),
    accept: (s, m) => looksGenerated(s) && !afterDigestWord(m),
  },
  {
    name: "secret",
    // `API_KEY=...`, `secret: ...`, `"client_secret": "..."`: only values that look machine-generated.
    requires: HAS_ASSIGNMENT,
    pattern: new RegExp(
      `(?<![A-Za-z0-9])${SECRET_KEY}${NOT_A_SECRET_KEY_SUFFIX}[A-Za-z0-9_.-]*${ASSIGN}(?:\\\\?["'])?(?<s>[^\\s"',;{}()\\[\\]<>\\\\]{12,512})`,
      "gi",
    ),
    accept: (s, m) => looksGenerated(s) && !afterDigestWord(m),
  },
];

/**
 * The values in a cookie header (`a=1; b=2`), as offsets: every value of 8
 * characters or more except the attributes (`Path=/`, `Domain=…`).
 */
function cookieValues(header: string): [number, number][] {
  const parts: [number, number][] = [];
  for (const m of header.matchAll(/(?:^|;)\s*(?<name>[^=;\s"']+)=(?<value>[^;\s"',]*)/g)) {
    const name = m.groups?.name ?? "";
    const value = m.groups?.value ?? "";
    if (value.length < 8 || COOKIE_ATTRIBUTE.test(name) || isReference(value)) continue;
    const end = (m.index ?? 0) + m[0].length;
    parts.push([end - value.length, end]);
  }
  return parts;
}

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

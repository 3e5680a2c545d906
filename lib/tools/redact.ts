/**
 * A small built-in secret scrubber for tool output. It knows the common token
 * shapes and, more importantly, the exact values of the credentials the
 * sandbox injected into this one call: a tool that echoes its own token
 * cannot leak it. The LLM area provides a richer redactor; the sandbox takes
 * any `(text) => text` function.
 */

export type Redactor = (text: string) => string;

export const REDACTED = "[redacted]";

/** Token shapes worth scrubbing wherever they appear. Each keeps its prefix so a reader sees what was removed. */
const PATTERNS: readonly [RegExp, string][] = [
  [
    /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
    `-----BEGIN PRIVATE KEY----- ${REDACTED}`,
  ],
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, `$1${REDACTED}`],
  [/\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}/g, `$1${REDACTED}`],
  [/\b(hv[sbr]\.)[A-Za-z0-9_-]{20,}/g, `$1${REDACTED}`],
  [/\b(xox[abposr]-)[A-Za-z0-9-]{10,}/g, `$1${REDACTED}`],
  [/\b(sk-(?:ant-|proj-)?)[A-Za-z0-9_-]{20,}/g, `$1${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REDACTED],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}/gi, `$1 ${REDACTED}`],
  [
    /(["']?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret|private[_-]?key|session[_-]?token|credential)s?["']?\s*[:=]\s*["']?)([^\s"',}]{4,})/gi,
    `$1${REDACTED}`,
  ],
];

/**
 * Builds a scrubber for the given known secret values plus the built-in
 * patterns. Values shorter than 4 characters are ignored: scrubbing "a"
 * everywhere would destroy the output without protecting anything.
 */
export function createSecretScrubber(knownSecrets: Iterable<string> = []): Redactor {
  const values: string[] = [];
  for (const secret of knownSecrets) {
    values.push(secret);
    // Tool output is redacted one line at a time, so a multi-line value (a PEM key, a JSON
    // credential) would never match whole: each of its lines is scrubbed on its own too.
    if (/[\r\n]/.test(secret)) for (const line of secret.split(/\r?\n|\r/)) values.push(line.trim());
  }
  const literals = [...new Set(values.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const secret of literals) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

/** The default scrubber: patterns only. */
export const defaultRedactor: Redactor = createSecretScrubber();

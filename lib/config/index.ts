/**
 * Configuration: one YAML file (optional), environment overrides, defaults
 * that run the embedded profile with nothing set. Validated once at start-up;
 * an invalid value throws a `ConfigError` naming the field, the problem and
 * the fix, and the process stops.
 *
 * Environment overrides: `WHEELHOUSE_<SECTION>__<FIELD>` (double underscore
 * between levels, since field names contain single ones), values read as YAML
 * scalars: `WHEELHOUSE_NATS__URL=nats://10.0.0.5:4222`,
 * `WHEELHOUSE_GATEWAY__PORT=9000`, `WHEELHOUSE_LLM__REDACT_PATTERNS='[foo.*]'`.
 */
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { ConfigError, type FieldIssue } from "../errors/index.ts";
import { type Config, ConfigObjectSchema, ConfigSchema, type SecretRef } from "./schema.ts";

export * from "./schema.ts";

const ENV_PREFIX = "WHEELHOUSE_";

/**
 * Which `WHEELHOUSE_*` variables are overrides: a nested path (`WHEELHOUSE_NATS__URL`, where a
 * misspelt section is an error worth stopping for) or a top-level field (`WHEELHOUSE_PROFILE`).
 * Others (`WHEELHOUSE_CONFIG`, the CLI's `WHEELHOUSE_URL` and `WHEELHOUSE_TOKEN`, secrets such as
 * `WHEELHOUSE_S3_ACCESS_KEY`) are not configuration fields and are left alone.
 */
function isOverride(key: string): boolean {
  const path = key.slice(ENV_PREFIX.length);
  return path.includes("__") || Object.hasOwn(ConfigObjectSchema.entries, path.toLowerCase());
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Loads and validates the configuration.
 *
 * @param path YAML file; `undefined` means `$WHEELHOUSE_CONFIG` or none at all.
 */
export function loadConfig(path?: string, env: Env = process.env): Config {
  const file = path ?? env.WHEELHOUSE_CONFIG;
  const raw = file === undefined || file === "" ? {} : readYamlFile(file);
  const merged = applyEnvOverrides(raw, env);
  return parseConfig(merged, file);
}

/** Validates an already-parsed document (tests and embedded callers use it directly). */
export function parseConfig(document: unknown, source = "configuration"): Config {
  const result = v.safeParse(ConfigSchema, document ?? {});
  if (result.success) return result.output;
  const issues = result.issues.map((issue) => describeIssue(issue));
  const lines = issues.map((i) => `  - ${i.field}: ${i.message}${i.fix ? `. Fix: ${i.fix}` : ""}`);
  throw new ConfigError(`invalid ${source}:\n${lines.join("\n")}`, issues, {
    field: issues[0]?.field,
    fix: issues[0]?.fix,
  });
}

function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `cannot read config file ${file} (${code ?? "error"})`,
      [
        {
          field: "WHEELHOUSE_CONFIG",
          message: `file ${file} is not readable`,
          fix: "point it at an existing YAML file",
        },
      ],
      { cause, field: file, fix: "check the path, or unset WHEELHOUSE_CONFIG to run on defaults" },
    );
  }
  try {
    const doc = parseYaml(text) as unknown;
    if (doc !== null && doc !== undefined && (typeof doc !== "object" || Array.isArray(doc))) {
      throw new ConfigError(`config file ${file} must hold a YAML mapping at the top level`, [
        { field: "(root)", message: "expected a mapping", fix: "start the file with keys such as `gateway:`" },
      ]);
    }
    return doc ?? {};
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    const where = cause instanceof YAMLParseError ? ` at line ${cause.linePos?.[0]?.line ?? "?"}` : "";
    throw new ConfigError(
      `config file ${file} is not valid YAML${where}: ${(cause as Error).message}`,
      [{ field: file, message: "not valid YAML", fix: "fix the YAML syntax at the line named" }],
      { cause },
    );
  }
}

function applyEnvOverrides(document: unknown, env: Env): unknown {
  const root: Record<string, unknown> = { ...(document as Record<string, unknown>) };
  const keys = Object.keys(env)
    .filter((k) => k.startsWith(ENV_PREFIX) && isOverride(k))
    .sort();
  for (const key of keys) {
    const value = env[key];
    if (value === undefined) continue;
    const path = key
      .slice(ENV_PREFIX.length)
      .split("__")
      .map((p) => p.toLowerCase());
    let node = root;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      const copy = typeof next === "object" && next !== null && !Array.isArray(next) ? { ...next } : {};
      node[segment] = copy;
      node = copy as Record<string, unknown>;
    }
    const leaf = path[path.length - 1];
    if (leaf !== undefined) node[leaf] = parseScalar(value);
  }
  return root;
}

function parseScalar(value: string): unknown {
  try {
    return parseYaml(value) as unknown;
  } catch {
    return value;
  }
}

function describeIssue(issue: v.BaseIssue<unknown>): FieldIssue {
  const field = v.getDotPath(issue) ?? "(root)";
  if (issue.type === "strict_object" && issue.expected === "never") {
    const unknownKey = field.split(".").pop() ?? field;
    const parentPath = field.split(".").slice(0, -1);
    const known = knownKeys(parentPath);
    const guess = closest(unknownKey, known);
    return {
      field,
      message: `unknown field "${unknownKey}"`,
      fix: guess ? `did you mean "${guess}"?` : `remove it; known fields here: ${known.join(", ")}`,
    };
  }
  // Never echo what was given for a field that may hold a secret.
  const sensitive = /key|secret|token|password|credential/i.test(field);
  const got = issue.received === undefined || sensitive ? "" : `, got ${issue.received}`;
  if (issue.type === "regex" || issue.type === "url" || !issue.expected) {
    // Custom messages (regex, url) already say what to write.
    return { field, message: `invalid value${got}`, fix: `${field} ${issue.message}` };
  }
  const message = `expected ${issue.expected}${got}`;
  const expected = issue.expected;
  const fix = /^[a-z]+$/.test(expected)
    ? `set ${field} to a ${expected}`
    : /^[<>=!]/.test(expected)
      ? `set ${field} to a value ${expected}`
      : `set ${field} to one of ${expected}`;
  return { field, message, fix };
}

function knownKeys(path: readonly string[]): string[] {
  // biome-ignore lint/suspicious/noExplicitAny: walking valibot's schema tree generically
  let schema: any = ConfigObjectSchema;
  for (const segment of path) {
    while (schema?.wrapped) schema = schema.wrapped;
    schema = schema?.entries?.[segment];
  }
  while (schema?.wrapped) schema = schema.wrapped;
  return schema?.entries ? Object.keys(schema.entries) : [];
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = levenshtein(word, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] ?? 0;
}

/**
 * Resolves a secret reference to its value. Returns `null` when the variable
 * is unset or the file missing; `requireSecret` throws a `ConfigError` instead.
 * The value is never logged.
 */
export function resolveSecret(ref: SecretRef | undefined, env: Env = process.env): string | null {
  if (ref === undefined) return null;
  if (ref.startsWith("env:")) {
    const value = env[ref.slice(4)];
    return value === undefined || value === "" ? null : value;
  }
  try {
    return readFileSync(ref.slice(5), "utf8").trim();
  } catch {
    return null;
  }
}

export function requireSecret(ref: SecretRef | undefined, field: string, env: Env = process.env): string {
  const value = resolveSecret(ref, env);
  if (value !== null) return value;
  const where = ref === undefined ? "no reference is set" : `${ref} is empty or missing`;
  throw new ConfigError(`secret for ${field} is not available: ${where}`, [
    {
      field,
      message: where,
      fix:
        ref === undefined
          ? `set ${field} to env:VAR_NAME or file:/path`
          : ref.startsWith("env:")
            ? `export ${ref.slice(4)}=... before starting`
            : `create ${ref.slice(5)} with the secret in it`,
    },
  ]);
}

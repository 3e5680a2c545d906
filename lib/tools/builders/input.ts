/**
 * What every command builder starts with: the input checks that run before
 * any argv is built (see lib/tools/builders.ts for why each is refused), and
 * the typed readers of a validated input.
 */
import { type FieldIssue, ValidationError } from "../../errors/index.ts";
import { type Catalog, loadCatalog } from "../catalog.ts";

export type ToolInput = Readonly<Record<string, unknown>>;

export interface BuildOptions {
  /** Build the action's dry-run form (`kubectl --dry-run=server`, `helm upgrade --dry-run=server`, `argocd app diff`). */
  readonly dryRun?: boolean | undefined;
  /** Folders an absolute chart path may point into (config `tools.allowed_paths`). */
  readonly allowedRoots?: readonly string[] | undefined;
  /** Local path of the resolved and checksum-verified `values_ref` artifact. */
  readonly valuesFile?: string | undefined;
  /** Local path of the resolved, checksum-verified and checked `manifest_ref` artifact (kubectl apply). */
  readonly manifestFile?: string | undefined;
  /** Vault `data_refs` resolved to files in the private work dir: field → path. */
  readonly secretFiles?: Readonly<Record<string, string>> | undefined;
  /** Catalog to validate against; the default catalog otherwise. */
  readonly catalog?: Catalog | undefined;
}

/** The longest string any non-free-text field may hold, whatever its schema says. */
const MAX_TOKEN_LENGTH = 1024;
const MAX_TEXT_LENGTH = 65_536;

/**
 * Fields holding prose rather than identifiers. `multiline` allows \n and \t
 * (and non-ASCII, for people's names in a PR body); the others are one line
 * of printable ASCII.
 */
const TEXT_FIELDS: Readonly<Record<string, Readonly<Record<string, { multiline: boolean }>>>> = {
  "gh.pr_create": { title: { multiline: false }, body: { multiline: true } },
  "kubectl.annotate": { "annotations.*": { multiline: false } },
};

let defaultCatalog: Catalog | undefined;
/** The catalog the options name, or the default one (loaded once). */
export function catalogOf(opts: BuildOptions): Catalog {
  if (opts.catalog) return opts.catalog;
  defaultCatalog ??= loadCatalog();
  return defaultCatalog;
}

/**
 * Checks an input before any argv is built: the hardening rules first (their
 * messages say exactly what is wrong), then the catalog schema.
 * Throws a `ValidationError` listing every problem found.
 */
export function validateToolInput(actionId: string, input: unknown, opts: BuildOptions = {}): ToolInput {
  const catalog = catalogOf(opts);
  const action = catalog.get(actionId);
  if (!action) {
    throw new ValidationError(`unknown action "${actionId}"`, {
      field: "action_id",
      fix: "use an action id from the tool catalog (schemas/tools), e.g. kubectl.scale",
    });
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ValidationError(`input for ${actionId} must be an object`, {
      field: "input",
      fix: "send a JSON object matching the action's input schema",
    });
  }
  const issues: FieldIssue[] = [];
  scan(actionId, input, "input", issues);
  if (issues.length === 0) {
    const result = catalog.validateInput(actionId, input);
    if (!result.ok) issues.push(...result.issues);
  }
  if (issues.length > 0) {
    const first = issues[0] as FieldIssue;
    throw new ValidationError(`invalid input for ${actionId}: ${first.field} ${first.message}`, {
      field: first.field,
      fix: first.fix,
      issues,
    });
  }
  return input as ToolInput;
}

function textRule(actionId: string, path: string): { multiline: boolean } | undefined {
  const rules = TEXT_FIELDS[actionId];
  if (!rules) return undefined;
  const bare = path.replace(/^input\./, "");
  if (rules[bare]) return rules[bare];
  const wildcard = bare.replace(/\.[^.]+$/, ".*");
  return rules[wildcard];
}

// Ranges: C0 controls, DEL, C1 controls, and Unicode line/paragraph separators and bidi overrides.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]/;
const NEWLINE_OR_TAB = /[\n\t\r]/;
const NON_ASCII = /[^\x20-\x7E]/;

function scan(actionId: string, value: unknown, path: string, issues: FieldIssue[]): void {
  if (typeof value === "string") {
    scanString(actionId, value, path, issues);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      scan(actionId, item, `${path}.${i}`, issues);
    });
    return;
  }
  if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      scanString(actionId, key, `${path}.${key} (key)`, issues, true);
      scan(actionId, item, `${path}.${key}`, issues);
    }
  }
}

function scanString(actionId: string, s: string, field: string, issues: FieldIssue[], isKey = false): void {
  const rule = isKey ? undefined : textRule(actionId, field);
  const max = rule?.multiline ? MAX_TEXT_LENGTH : MAX_TOKEN_LENGTH;
  const add = (message: string, fix: string) => issues.push({ field, message, fix });
  if (s.length > max) {
    add(`is ${s.length} characters long (at most ${max})`, "shorten the value");
    return;
  }
  if (s.includes("\0")) {
    add("contains a NUL byte", "remove the NUL byte");
    return;
  }
  if (CONTROL.test(s) || (!rule?.multiline && NEWLINE_OR_TAB.test(s))) {
    add("contains a newline or control character", "send a single line of printable characters");
    return;
  }
  if (!rule?.multiline && NON_ASCII.test(s)) {
    add(
      "contains non-ASCII characters (possible look-alike letters)",
      "use plain ASCII letters, digits and punctuation; names must be ASCII",
    );
    return;
  }
  if (!rule?.multiline && s.startsWith("-")) {
    add("starts with '-', so a CLI could read it as a flag", "remove the leading '-'");
    return;
  }
  if (!rule?.multiline && (s.includes("$(") || s.includes("`") || s.includes("${"))) {
    add(
      "contains shell substitution syntax (dollar-paren, dollar-brace or backticks)",
      "remove the substitution; send a literal value",
    );
    return;
  }
  if (!rule && /(^|[/\\])\.\.([/\\]|$)/.test(s)) {
    add("contains a '..' path segment", "name a path inside the allowed folder without '..'");
  }
}

// Readers of a validated input: the catalog schema has checked the types, these only narrow them.

/** A string field, or undefined. */
export function str(input: ToolInput, key: string): string | undefined {
  const v = input[key];
  return typeof v === "string" ? v : undefined;
}
/** A required string (or number) field, as a string. */
export function req(input: ToolInput, key: string): string {
  const v = input[key];
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  // The schema marks these required; reaching here means the catalog and builder disagree.
  throw new ValidationError(`input.${key} is required`, { field: `input.${key}`, fix: `set ${key}` });
}
/** An integer field, or undefined. */
export function int(input: ToolInput, key: string): number | undefined {
  const v = input[key];
  return typeof v === "number" ? v : undefined;
}
/** A boolean field, or `fallback` when absent. */
export function bool(input: ToolInput, key: string, fallback: boolean): boolean {
  const v = input[key];
  return typeof v === "boolean" ? v : fallback;
}
/** Throws for an action the tool's builder has no case for. */
export function unknownAction(tool: string, action: string): never {
  throw new ValidationError(`no builder for ${tool}.${action}`, {
    field: "action_id",
    fix: `use an action of ${tool} listed in schemas/tools/${tool}.json`,
  });
}

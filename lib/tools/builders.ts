/**
 * Command builders: a validated catalog input → exactly one argv.
 *
 * An argv is an array handed to `execve` without a shell, so `;`, `$()` and
 * backticks are inert here; they are still refused, with control characters,
 * values that could be read as flags, path escapes, non-ASCII look-alikes and
 * over-long values, because an input that contains them is not one a planner
 * should have produced and a human approved. Every flag is written as
 * `--flag=value` so that a value can never become a flag of its own.
 */
import { isAbsolute, normalize, sep } from "node:path";
import { type FieldIssue, ValidationError } from "../errors/index.ts";
import { type Catalog, loadCatalog } from "./catalog.ts";

export type ToolInput = Readonly<Record<string, unknown>>;

export interface BuildOptions {
  /** Build the action's dry-run form (`kubectl --dry-run=server`, `helm upgrade --dry-run=server`, `argocd app diff`). */
  readonly dryRun?: boolean | undefined;
  /** Folders an absolute chart path may point into (config `tools.allowed_paths`). */
  readonly allowedRoots?: readonly string[] | undefined;
  /** Local path of the resolved and checksum-verified `values_ref` artifact. */
  readonly valuesFile?: string | undefined;
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

/** Exit codes that mean success besides 0 (argocd app diff exits 1 when it finds a difference). */
export function successExitCodes(actionId: string, dryRun = false): readonly number[] {
  if (actionId === "argocd.app_diff" || (dryRun && actionId === "argocd.app_sync")) return [0, 1];
  return [0];
}

let defaultCatalog: Catalog | undefined;
function catalogOf(opts: BuildOptions): Catalog {
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

function str(input: ToolInput, key: string): string | undefined {
  const v = input[key];
  return typeof v === "string" ? v : undefined;
}
function req(input: ToolInput, key: string): string {
  const v = input[key];
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  // The schema marks these required; reaching here means the catalog and builder disagree.
  throw new ValidationError(`input.${key} is required`, { field: `input.${key}`, fix: `set ${key}` });
}
function int(input: ToolInput, key: string): number | undefined {
  const v = input[key];
  return typeof v === "number" ? v : undefined;
}
function bool(input: ToolInput, key: string, fallback: boolean): boolean {
  const v = input[key];
  return typeof v === "boolean" ? v : fallback;
}
function unknownAction(tool: string, action: string): never {
  throw new ValidationError(`no builder for ${tool}.${action}`, {
    field: "action_id",
    fix: `use an action of ${tool} listed in schemas/tools/${tool}.json`,
  });
}

// ---------------------------------------------------------------- kubectl

/** `kubectl …` for one catalog action. */
export function buildKubectlCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`kubectl.${action}`, rawInput, opts);
  const kind = req(input, "kind");
  const name = str(input, "name");
  const ref = name === undefined ? kind : kind === "pod" && action === "logs" ? name : `${kind}/${name}`;
  const common = [`--namespace=${req(input, "namespace")}`];
  const context = str(input, "context");
  if (context !== undefined) common.push(`--context=${context}`);
  const dry = opts.dryRun ? ["--dry-run=server"] : [];
  switch (action) {
    case "get": {
      const argv = ["kubectl", "get", kind];
      if (name !== undefined) argv.push(name);
      const selector = str(input, "label_selector");
      if (selector !== undefined) argv.push(`--selector=${selector}`);
      argv.push(`--output=${str(input, "output") ?? "json"}`);
      return [...argv, ...common];
    }
    case "describe":
      return ["kubectl", "describe", kind, req(input, "name"), ...common];
    case "logs": {
      const argv = ["kubectl", "logs", ref, `--tail=${int(input, "tail_lines") ?? 200}`];
      const container = str(input, "container");
      if (container !== undefined) argv.push(`--container=${container}`);
      const since = int(input, "since_seconds");
      if (since !== undefined) argv.push(`--since=${since}s`);
      if (bool(input, "previous", false)) argv.push("--previous=true");
      return [...argv, ...common];
    }
    case "scale": {
      const argv = ["kubectl", "scale", ref, `--replicas=${req(input, "replicas")}`];
      const current = int(input, "current_replicas");
      if (current !== undefined) argv.push(`--current-replicas=${current}`);
      return [...argv, ...common, ...dry];
    }
    case "rollout_status":
      return [
        "kubectl",
        "rollout",
        "status",
        ref,
        "--watch=true",
        `--timeout=${int(input, "timeout_seconds") ?? 300}s`,
        ...common,
      ];
    case "rollout_restart":
      // `kubectl rollout restart` has no --dry-run; the catalog says dry_run: false, so buildCommand refuses one.
      return ["kubectl", "rollout", "restart", ref, ...common];
    case "rollout_undo": {
      const argv = ["kubectl", "rollout", "undo", ref];
      const to = int(input, "to_revision");
      if (to !== undefined && to > 0) argv.push(`--to-revision=${to}`);
      return [...argv, ...common, ...dry];
    }
    case "annotate": {
      const annotations = input.annotations as Record<string, string>;
      const pairs = Object.keys(annotations)
        .sort()
        .map((k) => `${k}=${annotations[k]}`);
      const argv = ["kubectl", "annotate", ref, ...pairs];
      if (bool(input, "overwrite", true)) argv.push("--overwrite=true");
      return [...argv, ...common, ...dry];
    }
    default:
      return unknownAction("kubectl", action);
  }
}

// ---------------------------------------------------------------- helm

function chartArg(input: ToolInput, opts: BuildOptions): string {
  const chart = req(input, "chart");
  if (!isAbsolute(chart)) return chart;
  const roots = (opts.allowedRoots ?? []).map((r) => normalize(r).replace(/[/\\]+$/, ""));
  const normalized = normalize(chart);
  const inside = roots.some((root) => root.length > 0 && (normalized === root || normalized.startsWith(root + sep)));
  if (normalized !== chart || !inside) {
    throw new ValidationError(`input.chart ${chart} is outside the allowed folders`, {
      field: "input.chart",
      fix:
        roots.length === 0
          ? "use a repo/chart or oci:// reference, or add the folder to tools.allowed_paths"
          : `use a chart under ${roots.join(", ")}, or a repo/chart or oci:// reference`,
    });
  }
  return chart;
}

function valuesArgs(input: ToolInput, opts: BuildOptions): string[] {
  if (input.values_ref === undefined) return [];
  if (opts.valuesFile === undefined) {
    throw new ValidationError("input.values_ref has not been resolved to a verified file", {
      field: "input.values_ref",
      fix: "resolve the artifact with resolveArtifact() and pass its path as valuesFile",
    });
  }
  return [`--values=${opts.valuesFile}`];
}

function setArgs(input: ToolInput): string[] {
  const set = input.set as Record<string, string | number | boolean> | undefined;
  if (!set) return [];
  return Object.keys(set)
    .sort()
    .map((k) => `--set=${k}=${String(set[k])}`);
}

function kubeContext(input: ToolInput): string[] {
  const c = str(input, "kube_context");
  return c === undefined ? [] : [`--kube-context=${c}`];
}

/** `helm …` for one catalog action. */
export function buildHelmCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`helm.${action}`, rawInput, opts);
  const release = req(input, "release");
  const ns = `--namespace=${req(input, "namespace")}`;
  const version = str(input, "version");
  const versionArgs = version === undefined ? [] : [`--version=${version}`];
  switch (action) {
    case "status": {
      const rev = int(input, "revision");
      return [
        "helm",
        "status",
        release,
        ns,
        ...(rev === undefined ? [] : [`--revision=${rev}`]),
        "--output=json",
        ...kubeContext(input),
      ];
    }
    case "history":
      return [
        "helm",
        "history",
        release,
        ns,
        `--max=${int(input, "max") ?? 20}`,
        "--output=json",
        ...kubeContext(input),
      ];
    case "template":
      return [
        "helm",
        "template",
        release,
        chartArg(input, opts),
        ns,
        ...versionArgs,
        ...valuesArgs(input, opts),
        ...setArgs(input),
      ];
    case "upgrade_dry_run":
    case "upgrade": {
      const dry = action === "upgrade_dry_run" || opts.dryRun === true;
      const argv = ["helm", "upgrade", release, chartArg(input, opts), ns, ...versionArgs];
      argv.push(...valuesArgs(input, opts), ...setArgs(input));
      if (bool(input, "install", false)) argv.push("--install");
      if (dry) {
        argv.push("--dry-run=server");
      } else {
        if (bool(input, "atomic", true)) argv.push("--atomic");
        if (bool(input, "wait", true)) argv.push("--wait");
        argv.push(`--timeout=${int(input, "timeout_seconds") ?? 300}s`);
      }
      return [...argv, ...kubeContext(input)];
    }
    case "rollback": {
      const argv = ["helm", "rollback", release, req(input, "revision"), ns];
      if (bool(input, "wait", true)) argv.push("--wait");
      argv.push(`--timeout=${int(input, "timeout_seconds") ?? 300}s`);
      if (opts.dryRun) argv.push("--dry-run");
      return [...argv, ...kubeContext(input)];
    }
    default:
      return unknownAction("helm", action);
  }
}

// ---------------------------------------------------------------- argocd

/** `argocd …` for one catalog action. A dry-run sync is `argocd app diff`. */
export function buildArgoCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`argocd.${action}`, rawInput, opts);
  const app = req(input, "app");
  const revision = str(input, "revision");
  const revisionArgs = revision === undefined ? [] : [`--revision=${revision}`];
  const timeout = `--timeout=${int(input, "timeout_seconds") ?? 300}`;
  switch (action) {
    case "app_get":
      return ["argocd", "app", "get", app, "--output=json", ...(bool(input, "refresh", false) ? ["--refresh"] : [])];
    case "app_diff":
      return ["argocd", "app", "diff", app, ...revisionArgs];
    case "app_sync":
      if (opts.dryRun) return ["argocd", "app", "diff", app, ...revisionArgs];
      return [
        "argocd",
        "app",
        "sync",
        app,
        ...revisionArgs,
        ...(bool(input, "prune", false) ? ["--prune"] : []),
        timeout,
      ];
    case "app_wait":
      return [
        "argocd",
        "app",
        "wait",
        app,
        ...(bool(input, "health", true) ? ["--health"] : []),
        ...(bool(input, "sync", true) ? ["--sync"] : []),
        timeout,
      ];
    case "app_rollback": {
      const id = int(input, "history_id") ?? 0;
      return [
        "argocd",
        "app",
        "rollback",
        app,
        ...(id > 0 ? [String(id)] : []),
        ...(bool(input, "prune", false) ? ["--prune"] : []),
        timeout,
      ];
    }
    default:
      return unknownAction("argocd", action);
  }
}

// ---------------------------------------------------------------- aws

/** `aws …` for one catalog action; always pins `--region` and `--output=json`. */
export function buildAwsCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`aws.${action}`, rawInput, opts);
  const tail = [`--region=${req(input, "region")}`, "--output=json"];
  const profile = str(input, "profile");
  if (profile !== undefined) tail.push(`--profile=${profile}`);
  switch (action) {
    case "sts_get_caller_identity":
      return ["aws", "sts", "get-caller-identity", ...tail];
    case "ecs_describe_services":
      return [
        "aws",
        "ecs",
        "describe-services",
        `--cluster=${req(input, "cluster")}`,
        "--services",
        ...(input.services as string[]),
        ...tail,
      ];
    case "autoscaling_describe_groups":
      return [
        "aws",
        "autoscaling",
        "describe-auto-scaling-groups",
        "--auto-scaling-group-names",
        ...(input.group_names as string[]),
        ...tail,
      ];
    case "ecs_update_service_desired_count":
      return [
        "aws",
        "ecs",
        "update-service",
        `--cluster=${req(input, "cluster")}`,
        `--service=${req(input, "service")}`,
        `--desired-count=${req(input, "desired_count")}`,
        ...tail,
      ];
    case "autoscaling_set_desired_capacity":
      return [
        "aws",
        "autoscaling",
        "set-desired-capacity",
        `--auto-scaling-group-name=${req(input, "group_name")}`,
        `--desired-capacity=${req(input, "desired_capacity")}`,
        bool(input, "honor_cooldown", true) ? "--honor-cooldown" : "--no-honor-cooldown",
        ...tail,
      ];
    default:
      return unknownAction("aws", action);
  }
}

// ---------------------------------------------------------------- vault

/**
 * `vault …` for one catalog action. Vault's flag parser stops at the first
 * positional argument, so every flag comes before the path. Secret values are
 * passed as `key=@file` from `opts.secretFiles`, never on the command line.
 */
export function buildVaultCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`vault.${action}`, rawInput, opts);
  const head = ["-format=json", `-mount=${str(input, "mount") ?? "secret"}`];
  const path = req(input, "path");
  switch (action) {
    case "kv_metadata_get":
      return ["vault", "kv", "metadata", "get", ...head, path];
    case "kv_put": {
      const refs = input.data_refs as Record<string, string>;
      const files = opts.secretFiles ?? {};
      const pairs = Object.keys(refs)
        .sort()
        .map((key) => {
          const file = files[key];
          if (file === undefined) {
            throw new ValidationError(`input.data_refs.${key} has not been resolved to a file`, {
              field: `input.data_refs.${key}`,
              fix: "resolve data_refs into the private work dir and pass them as secretFiles",
            });
          }
          return `${key}=@${file}`;
        });
      const cas = int(input, "cas");
      return ["vault", "kv", "put", ...head, ...(cas === undefined ? [] : [`-cas=${cas}`]), path, ...pairs];
    }
    case "kv_rollback":
      return ["vault", "kv", "rollback", ...head, `-version=${req(input, "version")}`, path];
    default:
      return unknownAction("vault", action);
  }
}

// ---------------------------------------------------------------- boundary

/** `boundary …` for one catalog action. */
export function buildBoundaryCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`boundary.${action}`, rawInput, opts);
  switch (action) {
    case "targets_list":
      return [
        "boundary",
        "targets",
        "list",
        `-scope-id=${req(input, "scope_id")}`,
        ...(bool(input, "recursive", false) ? ["-recursive"] : []),
        "-format=json",
      ];
    case "targets_authorize_session":
      return ["boundary", "targets", "authorize-session", `-id=${req(input, "target_id")}`, "-format=json"];
    default:
      return unknownAction("boundary", action);
  }
}

// ---------------------------------------------------------------- gh

/** Fields `gh pr view --json` asks for; the API fallback returns the same names. */
export const GH_PR_VIEW_FIELDS = ["number", "title", "state", "url", "isDraft", "headRefName", "baseRefName"] as const;

/** `gh …` for one catalog action. */
export function buildGhCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`gh.${action}`, rawInput, opts);
  const repo = `--repo=${req(input, "repo")}`;
  switch (action) {
    case "pr_create":
      return [
        "gh",
        "pr",
        "create",
        repo,
        `--base=${req(input, "base")}`,
        `--head=${req(input, "head")}`,
        `--title=${req(input, "title")}`,
        `--body=${str(input, "body") ?? ""}`,
        ...(bool(input, "draft", false) ? ["--draft"] : []),
      ];
    case "pr_view":
      return ["gh", "pr", "view", req(input, "number"), repo, `--json=${GH_PR_VIEW_FIELDS.join(",")}`];
    default:
      return unknownAction("gh", action);
  }
}

// ---------------------------------------------------------------- dispatch

const BUILDERS: Readonly<Record<string, (action: string, input: unknown, opts?: BuildOptions) => string[]>> = {
  kubectl: buildKubectlCmd,
  helm: buildHelmCmd,
  argocd: buildArgoCmd,
  aws: buildAwsCmd,
  vault: buildVaultCmd,
  boundary: buildBoundaryCmd,
  gh: buildGhCmd,
};

/**
 * Builds the argv for a catalog action id (`kubectl.scale`). Throws a
 * `ValidationError` for an unknown action or an input that fails any check;
 * a dry run of an action without one is refused rather than run for real.
 */
export function buildCommand(actionId: string, input: unknown, opts: BuildOptions = {}): string[] {
  const dot = actionId.indexOf(".");
  const tool = dot > 0 ? actionId.slice(0, dot) : actionId;
  const builder = BUILDERS[tool];
  const action = catalogOf(opts).get(actionId);
  if (!builder || !action) {
    throw new ValidationError(`unknown action "${actionId}"`, {
      field: "action_id",
      fix: "use an action id from the tool catalog (schemas/tools), e.g. kubectl.scale",
    });
  }
  if (opts.dryRun && action.kind === "write" && !action.dry_run) {
    throw new ValidationError(`${actionId} has no dry-run form`, {
      field: "dry_run",
      fix: "run it without dry_run after approval, or plan a read action to preview it",
    });
  }
  return builder(action.action, input, opts);
}

/** helm: release status and history, template, upgrade (and its dry run), rollback, uninstall. */
import { isAbsolute, normalize, sep } from "node:path";
import { ValidationError } from "../../errors/index.ts";
import { type BuildOptions, bool, int, req, str, type ToolInput, unknownAction, validateToolInput } from "./input.ts";

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
    case "uninstall": {
      const argv = ["helm", "uninstall", release, ns];
      if (bool(input, "keep_history", false)) argv.push("--keep-history");
      if (bool(input, "wait", true)) argv.push("--wait");
      argv.push(`--timeout=${int(input, "timeout_seconds") ?? 300}s`);
      if (opts.dryRun) argv.push("--dry-run");
      return [...argv, ...kubeContext(input)];
    }
    default:
      return unknownAction("helm", action);
  }
}

/** kubectl: reads, scale, rollouts, annotations, manifests applied from artifacts, and node cordon/drain. */
import { ValidationError } from "../../errors/index.ts";
import { type BuildOptions, bool, int, req, str, type ToolInput, unknownAction, validateToolInput } from "./input.ts";

/** The field manager server-side apply records for Wheelhouse's changes. */
export const KUBECTL_FIELD_MANAGER = "wheelhouse";

function contextArgs(input: ToolInput): string[] {
  const context = str(input, "context");
  return context === undefined ? [] : [`--context=${context}`];
}

function manifestArg(opts: BuildOptions): string {
  if (opts.manifestFile === undefined) {
    throw new ValidationError("input.manifest_ref has not been resolved to a verified file", {
      field: "input.manifest_ref",
      fix: "resolve the artifact with resolveArtifact() and pass its path as manifestFile",
    });
  }
  return `--filename=${opts.manifestFile}`;
}

/** Actions on a manifest (apply, get_objects) and on a node (cordon, uncordon, drain): no kind/name input. */
function buildWithoutKind(action: string, input: ToolInput, opts: BuildOptions): string[] | null {
  const dry = opts.dryRun ? ["--dry-run=server"] : [];
  switch (action) {
    case "apply": {
      const flags = [manifestArg(opts), "--server-side=true", `--field-manager=${KUBECTL_FIELD_MANAGER}`];
      if (bool(input, "force_conflicts", false)) flags.push("--force-conflicts=true");
      const common = [`--namespace=${req(input, "namespace")}`, ...contextArgs(input)];
      // The preview is the server's own diff of what the apply would change (exit 1: there are differences).
      return opts.dryRun ? ["kubectl", "diff", ...flags, ...common] : ["kubectl", "apply", ...flags, ...common];
    }
    case "get_objects":
      return [
        "kubectl",
        "get",
        manifestArg(opts),
        "--ignore-not-found=true",
        "--output=json",
        `--namespace=${req(input, "namespace")}`,
        ...contextArgs(input),
      ];
    case "cordon":
    case "uncordon":
      return ["kubectl", action, req(input, "node"), ...contextArgs(input), ...dry];
    case "drain": {
      const argv = ["kubectl", "drain", req(input, "node")];
      argv.push(`--ignore-daemonsets=${bool(input, "ignore_daemonsets", true)}`);
      argv.push(`--delete-emptydir-data=${bool(input, "delete_emptydir_data", false)}`);
      const grace = int(input, "grace_period_seconds");
      if (grace !== undefined) argv.push(`--grace-period=${grace}`);
      argv.push(`--timeout=${int(input, "timeout_seconds") ?? 300}s`);
      return [...argv, ...contextArgs(input), ...dry];
    }
    default:
      return null;
  }
}

/** `kubectl …` for one catalog action. */
export function buildKubectlCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`kubectl.${action}`, rawInput, opts);
  const withoutKind = buildWithoutKind(action, input, opts);
  if (withoutKind !== null) return withoutKind;
  const kind = req(input, "kind");
  const name = str(input, "name");
  const ref = name === undefined ? kind : kind === "pod" && action === "logs" ? name : `${kind}/${name}`;
  const common = [`--namespace=${req(input, "namespace")}`, ...contextArgs(input)];
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

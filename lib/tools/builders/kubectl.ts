/** kubectl: reads, scale, rollouts and annotations of Kubernetes objects. */
import { type BuildOptions, bool, int, req, str, unknownAction, validateToolInput } from "./input.ts";

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

/** argocd: application reads, diff, sync, wait and rollback. */
import { type BuildOptions, bool, int, req, str, unknownAction, validateToolInput } from "./input.ts";

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

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
import { ValidationError } from "../errors/index.ts";
import { buildArgoCmd } from "./builders/argocd.ts";
import { buildAwsCmd } from "./builders/aws.ts";
import { buildBoundaryCmd } from "./builders/boundary.ts";
import { buildGhCmd } from "./builders/gh.ts";
import { buildGitCmd } from "./builders/git.ts";
import { buildHelmCmd } from "./builders/helm.ts";
import { type BuildOptions, catalogOf } from "./builders/input.ts";
import { buildKubectlCmd } from "./builders/kubectl.ts";
import { buildVaultCmd } from "./builders/vault.ts";

export { buildArgoCmd } from "./builders/argocd.ts";
export { buildAwsCmd } from "./builders/aws.ts";
export { buildBoundaryCmd } from "./builders/boundary.ts";
export { buildGhCmd, GH_PR_VIEW_FIELDS } from "./builders/gh.ts";
export { buildHelmCmd } from "./builders/helm.ts";
export { type BuildOptions, type ToolInput, validateToolInput } from "./builders/input.ts";
export { buildKubectlCmd, KUBECTL_FIELD_MANAGER } from "./builders/kubectl.ts";
export { buildVaultCmd } from "./builders/vault.ts";

/**
 * Exit codes that mean success besides 0: argocd app diff, and kubectl diff (the dry run of
 * kubectl.apply), exit 1 when they find a difference.
 */
export function successExitCodes(actionId: string, dryRun = false): readonly number[] {
  if (actionId === "argocd.app_diff" || (dryRun && actionId === "argocd.app_sync")) return [0, 1];
  if (dryRun && actionId === "kubectl.apply") return [0, 1];
  return [0];
}

const BUILDERS: Readonly<Record<string, (action: string, input: unknown, opts?: BuildOptions) => string[]>> = {
  kubectl: buildKubectlCmd,
  helm: buildHelmCmd,
  argocd: buildArgoCmd,
  aws: buildAwsCmd,
  vault: buildVaultCmd,
  boundary: buildBoundaryCmd,
  gh: buildGhCmd,
  git: buildGitCmd,
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

/**
 * Which Temporal workflow type runs a plan: a pure rule over what the plan
 * was asked from (`plan.requested`'s source) and the actions its steps call.
 * The five types share one step engine, so the choice names the run in
 * Temporal (and in `execution.started`) and decides the type's own extras:
 * an incident remediation ends with a follow-up issue.
 *
 * The first rule that matches wins:
 * 1. a plan raised by an alert is an incident remediation, whatever it calls;
 * 2. a plan that writes a Vault secret is a secret rotation (the riskiest write decides);
 * 3. an Argo CD sync or rollback, or a pull request (gh.pr_create, git.pull_request), is a GitOps deploy;
 * 4. a Helm upgrade, rollback or uninstall is a Helm release;
 * 5. anything else (kubectl scale and rollout restart, other direct writes to a
 *    running workload, a plan of reads only) is a scale-service change: the
 *    type of a direct change to what runs, with no extras.
 */
import type { WorkflowType } from "../../events/index.ts";

export type { WorkflowType } from "../../events/index.ts";

/** What the choice reads of a plan: the request's source and its steps' actions (of the revision run). */
export interface WorkflowKindInput {
  /** `plan.requested`'s source; absent when the request is not known (the rules on steps still apply). */
  readonly source?: string | undefined;
  readonly steps: readonly { readonly action_id: string }[];
}

const SECRET_WRITES = new Set(["vault.kv_put", "vault.kv_rollback"]);
const GITOPS = new Set(["argocd.app_sync", "argocd.app_rollback", "gh.pr_create", "git.pull_request"]);
const HELM = new Set(["helm.upgrade", "helm.rollback", "helm.uninstall"]);

export function workflowKindOf(plan: WorkflowKindInput): WorkflowType {
  if (plan.source === "alert") return "IncidentRemediationWorkflow";
  const calls = (actions: ReadonlySet<string>) => plan.steps.some((s) => actions.has(s.action_id));
  if (calls(SECRET_WRITES)) return "SecretRotationWorkflow";
  if (calls(GITOPS)) return "GitOpsDeployWorkflow";
  if (calls(HELM)) return "HelmReleaseWorkflow";
  return "ScaleServiceWorkflow";
}

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type WorkflowKindInput, type WorkflowType, workflowKindOf } from "./workflow-kind.ts";

const steps = (...actions: string[]) => actions.map((action_id) => ({ action_id }));

describe("workflowKindOf", () => {
  const cases: [string, WorkflowKindInput, WorkflowType][] = [
    [
      "an alert's plan, whatever it calls",
      { source: "alert", steps: steps("helm.rollback") },
      "IncidentRemediationWorkflow",
    ],
    ["an alert's plan of reads only", { source: "alert", steps: steps("kubectl.get") }, "IncidentRemediationWorkflow"],
    ["a Vault write", { source: "api", steps: steps("vault.kv_put") }, "SecretRotationWorkflow"],
    ["a Vault rollback", { source: "cli", steps: steps("vault.kv_rollback") }, "SecretRotationWorkflow"],
    [
      "a Vault write beside a restart (the secret decides)",
      { source: "api", steps: steps("kubectl.rollout_restart", "vault.kv_put") },
      "SecretRotationWorkflow",
    ],
    [
      "a Vault read is not a rotation",
      { source: "api", steps: steps("vault.kv_metadata_get") },
      "ScaleServiceWorkflow",
    ],
    [
      "an Argo CD sync",
      { source: "slack", steps: steps("argocd.app_sync", "argocd.app_wait") },
      "GitOpsDeployWorkflow",
    ],
    ["a pull request", { source: "api", steps: steps("gh.pr_create") }, "GitOpsDeployWorkflow"],
    [
      "a branch proposed as a pull request",
      { source: "api", steps: steps("git.pull_request") },
      "GitOpsDeployWorkflow",
    ],
    [
      "a sync beside a Helm upgrade (GitOps first)",
      { source: "api", steps: steps("helm.upgrade", "argocd.app_sync") },
      "GitOpsDeployWorkflow",
    ],
    ["a Helm upgrade", { source: "webhook", steps: steps("helm.status", "helm.upgrade") }, "HelmReleaseWorkflow"],
    ["a Helm rollback", { source: "api", steps: steps("helm.rollback") }, "HelmReleaseWorkflow"],
    [
      "a Helm upgrade beside a scale (Helm first)",
      { source: "api", steps: steps("kubectl.scale", "helm.upgrade") },
      "HelmReleaseWorkflow",
    ],
    ["a kubectl scale", { source: "api", steps: steps("kubectl.scale") }, "ScaleServiceWorkflow"],
    ["a rollout restart", { source: "api", steps: steps("kubectl.rollout_restart") }, "ScaleServiceWorkflow"],
    ["any other direct write (default)", { source: "api", steps: steps("kubectl.annotate") }, "ScaleServiceWorkflow"],
    ["reads only (default)", { source: "api", steps: steps("kubectl.get") }, "ScaleServiceWorkflow"],
    ["no steps and no known source (default)", { steps: [] }, "ScaleServiceWorkflow"],
  ];
  for (const [name, plan, expected] of cases) {
    it(`given ${name}, then ${expected}`, () => {
      assert.equal(workflowKindOf(plan), expected);
    });
  }
});

/**
 * The five execution workflow types, each a Temporal workflow of its own name
 * (what the Temporal UI lists), each the shared step engine run as its kind.
 * Which one runs a plan: lib/domain/workflow-kind.ts. What a kind changes:
 * the name recorded on `execution.started`, the named tool activities its
 * calls are scheduled as, and the notifications (an incident remediation
 * ends with a Linear follow-up). Workflow code: no Node built-ins.
 */
import type { ExecutePlanInput, ExecutionOutcome } from "../../../lib/orchestration/workflow.ts";
import { runExecution } from "./engine.ts";

/** A deploy through Git and Argo CD (a sync, a rollback, a pull request). */
export type GitOpsDeployInput = ExecutePlanInput;
/** A Helm release upgraded, rolled back or removed. */
export type HelmReleaseInput = ExecutePlanInput;
/** A direct change to a running workload (scale, restart, any other kubectl or cloud write). */
export type ScaleServiceInput = ExecutePlanInput;
/** The remediation of a plan raised by an alert; ends with a follow-up issue. */
export type IncidentRemediationInput = ExecutePlanInput;
/** A secret written or rolled back in Vault. */
export type SecretRotationInput = ExecutePlanInput;

export function GitOpsDeployWorkflow(input: GitOpsDeployInput): Promise<ExecutionOutcome> {
  return runExecution(input, "GitOpsDeployWorkflow");
}

export function HelmReleaseWorkflow(input: HelmReleaseInput): Promise<ExecutionOutcome> {
  return runExecution(input, "HelmReleaseWorkflow");
}

export function ScaleServiceWorkflow(input: ScaleServiceInput): Promise<ExecutionOutcome> {
  return runExecution(input, "ScaleServiceWorkflow");
}

export function IncidentRemediationWorkflow(input: IncidentRemediationInput): Promise<ExecutionOutcome> {
  return runExecution(input, "IncidentRemediationWorkflow");
}

export function SecretRotationWorkflow(input: SecretRotationInput): Promise<ExecutionOutcome> {
  return runExecution(input, "SecretRotationWorkflow");
}

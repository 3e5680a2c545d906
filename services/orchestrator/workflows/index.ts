/**
 * The worker's workflows entry: every function exported here is registered as a workflow type (the five
 * execution types and the generic `executePlan`), so helpers are not exported from here; the contract's
 * signals, queries, types and the retry-policy table are, for starters and observers.
 */
export {
  type CancelRequest,
  cancelSignal,
  type ExecutePlanInput,
  type ExecutionOutcome,
  type ExecutionPhase,
  type ExecutionStatus,
  type IntegrationActivities,
  NON_RETRYABLE_TYPES,
  statusQuery,
  TOOL_ACTIVITY_ACTIONS,
} from "../../../lib/orchestration/workflow.ts";
export { executePlan } from "./execute-plan.ts";
export {
  type GitOpsDeployInput,
  GitOpsDeployWorkflow,
  type HelmReleaseInput,
  HelmReleaseWorkflow,
  type IncidentRemediationInput,
  IncidentRemediationWorkflow,
  type ScaleServiceInput,
  ScaleServiceWorkflow,
  type SecretRotationInput,
  SecretRotationWorkflow,
} from "./kinds.ts";
export { type ActivityPolicy, type ActivityType, RETRY_POLICIES } from "./retry-policies.ts";

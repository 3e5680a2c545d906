/**
 * Approvals where people work: what every channel shows of a plan revision
 * waiting for approval (`approvalView`), derived from the plan's events.
 */
export {
  type ApprovalAnswer,
  type ApprovalStatus,
  type ApprovalView,
  approvalView,
  describeStep,
  executionStatusOf,
} from "./view.ts";

/**
 * Approvals where people work: what every channel shows of a plan revision
 * waiting for approval (`approvalView`), derived from the plan's events; and
 * the durable expiry timers (`createApprovalTimers`: arms one Temporal timer
 * per `approval.requested` that appends `approval.expired` once at its
 * deadline; with `openRequests` it also appends `approval.requested` once per
 * decided revision that needs approval). A process whose NATS user may write plan events hosts the timers:
 * `createApprovalTimers({ store, temporal: { connection, client }, taskQueue, logger }).start()`.
 */

export {
  APPROVAL_TIMER_ACTOR,
  type ApprovalExpiryInput,
  type ApprovalExpiryOutcome,
  type ApprovalTimers,
  type ApprovalTimersDeps,
  approvalExpiryWorkflowId,
  approvalIdFor,
  createApprovalExpiryActivities,
  createApprovalTimers,
  startApprovalExpiry,
} from "./expiry.ts";
export {
  type ApprovalAnswer,
  type ApprovalStatus,
  type ApprovalView,
  approvalView,
  describeStep,
  executionStatusOf,
} from "./view.ts";

/**
 * The approval expiry workflow: one per pending approval (plan revision),
 * a durable Temporal timer to the approval's deadline, then one activity
 * that appends `approval.expired` if the revision is still pending. The
 * timer lives in Temporal's history, so it survives the worker, the
 * process and the machine it started on. Bundled by the worker: imports
 * nothing but `@temporalio/workflow` and types.
 */
import { proxyActivities, sleep } from "@temporalio/workflow";
import type { ApprovalExpiryActivities, ApprovalExpiryInput, ApprovalExpiryOutcome } from "../expiry-contract.ts";

const { expireApproval } = proxyActivities<ApprovalExpiryActivities>({
  startToCloseTimeout: "30 seconds",
  // A store that cannot be reached, or a clock a little behind Temporal's: retried until it works.
  retry: { initialInterval: "1 second", maximumInterval: "30 seconds", nonRetryableErrorTypes: ["InvalidEvent"] },
});

/** Waits until `expires_at` (Temporal's clock), then expires the approval if it is still pending. */
export async function approvalExpiry(input: ApprovalExpiryInput): Promise<ApprovalExpiryOutcome> {
  const waitMs = Date.parse(input.expires_at) - Date.now();
  if (waitMs > 0) await sleep(waitMs);
  return expireApproval(input);
}

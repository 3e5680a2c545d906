/** What the approval expiry workflow and its activity exchange (plain JSON; the workflow imports types only). */

export interface ApprovalExpiryInput {
  readonly plan_id: string;
  readonly revision: number;
  /** RFC 3339: when the pending approval expires (`approval.requested`'s `expires_at`). */
  readonly expires_at: string;
  readonly correlation_id: string;
}

/** `expired`: this timer appended `approval.expired`; `not_pending`: nothing to expire (answered, superseded, expired already). */
export type ApprovalExpiryOutcome = "expired" | "not_pending";

export interface ApprovalExpiryActivities {
  expireApproval(input: ApprovalExpiryInput): Promise<ApprovalExpiryOutcome>;
}

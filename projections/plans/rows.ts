/**
 * Rows of the plans (+ `plan_steps`, `approvals`) read model, snake_case as in the tables and the API.
 * Timestamps are ISO 8601 strings, bigints are numbers (stream sequences
 * stay below 2^53).
 */

/** A plan's status in the read model (the API's `PlanStatusSchema`). */
export type PlanViewStatus =
  | "requested"
  | "proposed"
  | "failed"
  | "pending_approval"
  | "approved"
  | "rejected"
  | "denied"
  | "expired";

export interface PlanRow {
  plan_id: string;
  revision: number | null;
  status: PlanViewStatus;
  intent: string | null;
  source: string | null;
  environment: string | null;
  service: string | null;
  signal_id: string | null;
  summary: string | null;
  /** The current revision's digest (`revisionDigest`): what approvals bind to. */
  digest: string | null;
  planner: unknown;
  failure_reasons: string[] | null;
  decision: string | null;
  tier: string | null;
  /** The latest policy decision for the current revision: reasons, constraints, ttl, expiry, policy revision. */
  policy: unknown;
  approvals_required: number;
  approvals_granted: number;
  actor_id: string | null;
  correlation_id: string | null;
  created_at: string;
  updated_at: string;
  last_seq: number;
}

export interface PlanStepRow {
  plan_id: string;
  revision: number;
  step_id: string;
  position: number;
  action_id: string;
  input: unknown;
  target: unknown;
  environment: string | null;
  service: string | null;
  rationale: string;
  expected_effect: string | null;
  verification: unknown;
  rollback: unknown;
  decision: string | null;
  tier: string | null;
  reasons: string[] | null;
  approvers_required: number | null;
  constraints: unknown;
}

export type ApprovalStatus = "pending" | "granted" | "denied" | "expired";

export interface ApprovalRow {
  approval_id: string;
  plan_id: string;
  revision: number;
  status: ApprovalStatus;
  approvers_required: number;
  /** `via` is the channel the approver answered in; `digest` the revision digest they approved. */
  approvers: {
    approver: string;
    via: string;
    digest: string | null;
    /** The approver's groups when they answered (quorum by group). */
    groups?: string[];
    break_glass?: boolean;
    reason?: string | null;
    comment: string | null;
    at: string;
  }[];
  channels: string[];
  links: Record<string, string>;
  expires_at: string | null;
  reason: string | null;
  requested_at: string;
  decided_at: string | null;
  last_seq: number;
}

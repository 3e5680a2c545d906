/**
 * Read-model rows, snake_case as in the tables and the API. Timestamps are
 * ISO 8601 strings, bigints are numbers (stream sequences stay below 2^53).
 */

export type PlanStatus =
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
  status: PlanStatus;
  intent: string | null;
  source: string | null;
  environment: string | null;
  service: string | null;
  signal_id: string | null;
  summary: string | null;
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
  approvers: { approver: string; via: string; comment: string | null; at: string }[];
  channels: string[];
  links: Record<string, string>;
  expires_at: string | null;
  reason: string | null;
  requested_at: string;
  decided_at: string | null;
  last_seq: number;
}

export type ExecutionStatus =
  | "requested"
  | "running"
  | "verification_failed"
  | "rolling_back"
  | "rolled_back"
  | "succeeded"
  | "failed"
  | "cancelled";

export interface ExecutionRow {
  execution_id: string;
  plan_id: string | null;
  revision: number | null;
  status: ExecutionStatus;
  dry_run: boolean;
  workflow_id: string | null;
  run_id: string | null;
  reason: string | null;
  /** step_id → { action_id, status, tool_call_id, detail, updated_at } */
  steps: Record<string, unknown>;
  verification: unknown[];
  actor_id: string | null;
  correlation_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  last_seq: number;
}

export interface ToolCallRow {
  tool_call_id: string;
  execution_id: string;
  step_id: string | null;
  action_id: string | null;
  binary_name: string | null;
  argv: string[] | null;
  via: string | null;
  dry_run: boolean | null;
  status: string;
  exit_code: number | null;
  duration_ms: number | null;
  truncated: boolean | null;
  stdout_sha256: string | null;
  stderr_sha256: string | null;
  evidence_id: string | null;
  error: string | null;
  started_at: string | null;
  completed_at: string | null;
  last_seq: number;
}

export interface EvidenceRow {
  evidence_id: string;
  owner_type: string;
  owner_id: string;
  kind: string;
  uri: string;
  sha256: string;
  size_bytes: number;
  content_type: string;
  redacted: boolean;
  created_at: string;
  last_seq: number;
}

export interface AuditEventRow {
  seq: number;
  event_id: string;
  type: string;
  aggregate_type: string;
  aggregate_id: string;
  actor_id: string;
  actor: unknown;
  action: string;
  subject: string;
  outcome: string | null;
  correlation_id: string;
  causation_id: string | null;
  occurred_at: string;
  payload: unknown;
  prev_hash: string | null;
  hash: string | null;
}

export interface ContextNodeRow {
  node_id: string;
  kind: string;
  name: string;
  environment: string | null;
  attributes: Record<string, unknown>;
  updated_at: string;
  last_seq: number;
}

export interface ContextEdgeRow {
  from_node: string;
  to_node: string;
  kind: string;
  updated_at: string;
  last_seq: number;
}

export interface DeadLetterRow {
  id: number;
  consumer: string;
  stream: string;
  seq: number;
  subject: string;
  event_id: string | null;
  event_type: string | null;
  reason: string;
  error: string;
  deliveries: number;
  data: string;
  created_at: string;
}

export interface CheckpointRow {
  projection: string;
  last_seq: number;
  last_occurred_at: string | null;
  updated_at: string;
}

/** One page of a list, newest first; pass `next_cursor` back as `cursor` for the next page. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

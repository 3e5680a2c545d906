/**
 * Rows of the executions (+ `tool_calls`) read model, snake_case as in the tables and the API.
 * Timestamps are ISO 8601 strings, bigints are numbers (stream sequences
 * stay below 2^53).
 */

/** An execution's status in the read model (the API's `ExecutionStatusSchema`); not the workflow's. */
export type ExecutionViewStatus =
  | "requested"
  | "running"
  | "paused"
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
  status: ExecutionViewStatus;
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

/** One verification measurement (`execution.measured`): a value of one query at one attempt, judged. */
export interface MeasurementRow {
  /** execution/step/digest of provider and query/attempt (measurements.ts `measurementId`). */
  measurement_id: string;
  execution_id: string;
  step_id: string;
  provider: "prometheus" | "tempo" | "kubectl";
  query: string;
  /** 1-based, per step and provider. */
  attempt: number;
  /** Null when there was no value to read (empty, NaN, an error): always inconclusive. */
  value: number | null;
  outcome: "pass" | "fail" | "inconclusive";
  reason: string;
  measured_at: string;
  evidence_id: string | null;
  last_seq: number;
}

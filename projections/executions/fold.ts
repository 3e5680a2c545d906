/** The executions read model as a pure fold: (execution view, event) → execution view. */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import type { ExecutionRow, ExecutionStatus, ToolCallRow } from "../../lib/db/types.ts";

export const EXECUTION_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  "execution.requested",
  "execution.started",
  "execution.step_started",
  "execution.step_completed",
  "execution.verified",
  "execution.verification_failed",
  "execution.rollback_started",
  "execution.rolled_back",
  "execution.succeeded",
  "execution.failed",
  "execution.cancelled",
  "tool_call.started",
  "tool_call.completed",
]);

export interface ExecutionView {
  readonly execution: ExecutionRow;
  readonly toolCalls: Readonly<Record<string, ToolCallRow>>;
}

function emptyExecution(id: string, e: AnyRecordedEvent): ExecutionRow {
  return {
    execution_id: id,
    plan_id: null,
    revision: null,
    status: "requested",
    dry_run: false,
    workflow_id: null,
    run_id: null,
    reason: null,
    steps: {},
    verification: [],
    actor_id: e.actor.id,
    correlation_id: e.correlation_id,
    created_at: e.occurred_at,
    started_at: null,
    finished_at: null,
    updated_at: e.occurred_at,
    last_seq: e.seq,
  };
}

function emptyToolCall(id: string, executionId: string, e: AnyRecordedEvent): ToolCallRow {
  return {
    tool_call_id: id,
    execution_id: executionId,
    step_id: null,
    action_id: null,
    binary_name: null,
    argv: null,
    via: null,
    dry_run: null,
    status: "running",
    exit_code: null,
    duration_ms: null,
    truncated: null,
    stdout_sha256: null,
    stderr_sha256: null,
    evidence_id: null,
    error: null,
    started_at: null,
    completed_at: null,
    last_seq: e.seq,
  };
}

const TERMINAL: Partial<Record<EventType, ExecutionStatus>> = {
  "execution.succeeded": "succeeded",
  "execution.failed": "failed",
  "execution.cancelled": "cancelled",
};

export function evolveExecution(view: ExecutionView | null, event: AnyRecordedEvent): ExecutionView | null {
  if (!EXECUTION_EVENT_TYPES.has(event.type)) return view;
  const id = event.aggregate_id;
  // A view may hold tool calls but no execution row yet (loaded from tool_calls alone).
  const base: ExecutionView = view?.execution
    ? view
    : { execution: emptyExecution(id, event), toolCalls: view?.toolCalls ?? {} };
  const ex: ExecutionRow = { ...base.execution, updated_at: event.occurred_at, last_seq: event.seq };
  switch (event.type) {
    case "execution.requested": {
      const p = event.payload;
      return {
        ...base,
        execution: {
          ...ex,
          plan_id: p.plan_id,
          revision: p.revision,
          dry_run: p.dry_run,
          actor_id: event.actor.id,
          correlation_id: event.correlation_id,
          created_at: view?.execution ? ex.created_at : event.occurred_at,
        },
      };
    }
    case "execution.started": {
      const p = event.payload;
      return {
        ...base,
        execution: {
          ...ex,
          status: "running",
          plan_id: ex.plan_id ?? p.plan_id,
          workflow_id: p.workflow_id,
          run_id: p.run_id ?? null,
          started_at: event.occurred_at,
        },
      };
    }
    case "execution.step_started":
    case "execution.step_completed": {
      const p = event.payload;
      return {
        ...base,
        execution: {
          ...ex,
          steps: {
            ...ex.steps,
            [p.step_id]: {
              action_id: p.action_id,
              status: p.status,
              tool_call_id: p.tool_call_id ?? null,
              detail: p.detail ?? null,
              updated_at: event.occurred_at,
            },
          },
        },
      };
    }
    case "execution.verified":
    case "execution.verification_failed": {
      const p = event.payload;
      const passed = event.type === "execution.verified";
      return {
        ...base,
        execution: {
          ...ex,
          status: passed ? ex.status : "verification_failed",
          verification: [
            ...ex.verification,
            { step_id: p.step_id ?? null, passed, checks: p.checks, at: event.occurred_at },
          ],
        },
      };
    }
    case "execution.rollback_started":
      return { ...base, execution: { ...ex, status: "rolling_back", reason: event.payload.reason } };
    case "execution.rolled_back":
      return { ...base, execution: { ...ex, status: "rolled_back", reason: event.payload.reason } };
    case "execution.succeeded":
    case "execution.failed":
    case "execution.cancelled":
      return {
        ...base,
        execution: {
          ...ex,
          status: TERMINAL[event.type] as ExecutionStatus,
          reason: event.payload.reason ?? ex.reason,
          finished_at: event.occurred_at,
        },
      };
    case "tool_call.started": {
      const p = event.payload;
      const prior = base.toolCalls[p.tool_call_id] ?? emptyToolCall(p.tool_call_id, id, event);
      return {
        execution: ex,
        toolCalls: {
          ...base.toolCalls,
          [p.tool_call_id]: {
            ...prior,
            step_id: p.step_id,
            action_id: p.action_id,
            binary_name: p.binary,
            argv: p.argv,
            via: p.via,
            dry_run: p.dry_run,
            started_at: event.occurred_at,
            last_seq: event.seq,
          },
        },
      };
    }
    case "tool_call.completed": {
      const p = event.payload;
      const prior = base.toolCalls[p.tool_call_id] ?? emptyToolCall(p.tool_call_id, id, event);
      return {
        execution: ex,
        toolCalls: {
          ...base.toolCalls,
          [p.tool_call_id]: {
            ...prior,
            step_id: prior.step_id ?? p.step_id,
            status: p.status,
            exit_code: p.exit_code,
            duration_ms: p.duration_ms,
            truncated: p.truncated,
            stdout_sha256: p.stdout_sha256 ?? null,
            stderr_sha256: p.stderr_sha256 ?? null,
            evidence_id: p.evidence_id ?? null,
            error: p.error ?? null,
            completed_at: event.occurred_at,
            last_seq: event.seq,
          },
        },
      };
    }
    default:
      return view;
  }
}

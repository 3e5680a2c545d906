/** The executions read model as a pure fold: (execution view, event) → execution view. */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import type { ExecutionRow, ExecutionViewStatus, ToolCallRow } from "./rows.ts";

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

const TERMINAL: Partial<Record<EventType, ExecutionViewStatus>> = {
  "execution.succeeded": "succeeded",
  "execution.failed": "failed",
  "execution.cancelled": "cancelled",
};

/**
 * Folds one event into an execution view. Events of other types leave it
 * unchanged. Pure; to fold many events use `foldExecutionView`, which is O(1) per
 * event where calling this in a loop copies the view's maps every time.
 */
export function evolveExecutionView(view: ExecutionView | null, event: AnyRecordedEvent): ExecutionView | null {
  return foldExecutionView(view, [event]);
}

/**
 * Folds events (one aggregate's, in stream order) into an execution view.
 * Pure from the caller's side: `view` and everything in it is left as it
 * was. Inside, the result's maps are copied once, on first write (copy on
 * write), then updated in place, so a fold is O(1) per event rather than
 * O(tool calls); rows that did not change keep their identity, which tells
 * a writer what to save.
 */
export function foldExecutionView(
  view: ExecutionView | null,
  events: Iterable<AnyRecordedEvent>,
): ExecutionView | null {
  let execution: ExecutionRow | undefined = view?.execution;
  let toolCalls: Record<string, ToolCallRow> = (view?.toolCalls ?? {}) as Record<string, ToolCallRow>;
  // What this fold already owns (copied), and may therefore update in place.
  let ownExecution = false;
  let ownCalls = false;
  let ownSteps = false;
  let ownVerification = false;
  let changed = false;
  for (const event of events) {
    if (!EXECUTION_EVENT_TYPES.has(event.type)) continue;
    changed = true;
    const id = event.aggregate_id;
    // A view may hold tool calls but no execution row yet (loaded from tool_calls alone).
    const existed = execution !== undefined;
    if (!ownExecution) {
      execution = execution ? { ...execution } : emptyExecution(id, event);
      ownExecution = true;
      ownSteps = false;
      ownVerification = false;
    } else if (!execution) {
      execution = emptyExecution(id, event);
    }
    const ex = execution as ExecutionRow;
    ex.updated_at = event.occurred_at;
    ex.last_seq = event.seq;
    switch (event.type) {
      case "execution.requested": {
        const p = event.payload;
        ex.plan_id = p.plan_id;
        ex.revision = p.revision;
        ex.dry_run = p.dry_run;
        ex.actor_id = event.actor.id;
        ex.correlation_id = event.correlation_id;
        if (!existed) ex.created_at = event.occurred_at;
        break;
      }
      case "execution.started": {
        const p = event.payload;
        ex.status = "running";
        ex.plan_id = ex.plan_id ?? p.plan_id;
        ex.workflow_id = p.workflow_id;
        ex.run_id = p.run_id ?? null;
        ex.started_at = event.occurred_at;
        break;
      }
      case "execution.step_started":
      case "execution.step_completed": {
        const p = event.payload;
        if (!ownSteps) {
          ex.steps = { ...ex.steps };
          ownSteps = true;
        }
        ex.steps[p.step_id] = {
          action_id: p.action_id,
          status: p.status,
          tool_call_id: p.tool_call_id ?? null,
          detail: p.detail ?? null,
          updated_at: event.occurred_at,
        };
        break;
      }
      case "execution.verified":
      case "execution.verification_failed": {
        const p = event.payload;
        const passed = event.type === "execution.verified";
        if (!passed) ex.status = "verification_failed";
        if (!ownVerification) {
          ex.verification = [...ex.verification];
          ownVerification = true;
        }
        ex.verification.push({ step_id: p.step_id ?? null, passed, checks: p.checks, at: event.occurred_at });
        break;
      }
      case "execution.rollback_started":
        ex.status = "rolling_back";
        ex.reason = event.payload.reason;
        break;
      case "execution.rolled_back":
        ex.status = "rolled_back";
        ex.reason = event.payload.reason;
        break;
      case "execution.succeeded":
      case "execution.failed":
      case "execution.cancelled":
        ex.status = TERMINAL[event.type] as ExecutionViewStatus;
        ex.reason = event.payload.reason ?? ex.reason;
        ex.finished_at = event.occurred_at;
        break;
      case "tool_call.started": {
        const p = event.payload;
        if (!ownCalls) {
          toolCalls = { ...toolCalls };
          ownCalls = true;
        }
        const prior = toolCalls[p.tool_call_id] ?? emptyToolCall(p.tool_call_id, id, event);
        toolCalls[p.tool_call_id] = {
          ...prior,
          step_id: p.step_id,
          action_id: p.action_id,
          binary_name: p.binary,
          argv: p.argv,
          via: p.via,
          dry_run: p.dry_run,
          started_at: event.occurred_at,
          last_seq: event.seq,
        };
        break;
      }
      case "tool_call.completed": {
        const p = event.payload;
        if (!ownCalls) {
          toolCalls = { ...toolCalls };
          ownCalls = true;
        }
        const prior = toolCalls[p.tool_call_id] ?? emptyToolCall(p.tool_call_id, id, event);
        toolCalls[p.tool_call_id] = {
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
        };
        break;
      }
      default:
        break;
    }
  }
  if (!changed) return view;
  return { execution: execution as ExecutionRow, toolCalls };
}

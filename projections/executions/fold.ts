/** The executions read model as a pure fold: (execution view, event) → execution view. */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import { type EventHandlers, handlerTable, type RecordedEventOf } from "../handlers.ts";
import type { ExecutionRow, ExecutionViewStatus, ToolCallRow } from "./rows.ts";

/**
 * Every event of the execution aggregate but `tool_call.output`: output
 * chunks are the log stream's (NATS), never a read model's row.
 */
export type ExecutionEventType =
  | Extract<EventType, `execution.${string}`>
  | "tool_call.started"
  | "tool_call.completed";

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

/**
 * An execution view while a fold writes it: the execution row is copied
 * once per fold, its steps and verification and the tool calls once on
 * their first write (copy on write), then all are updated in place.
 */
interface ExecutionDraft {
  readonly executionId: string;
  readonly execution: ExecutionRow;
  /** Whether the execution had a row before the event being folded. */
  existed: boolean;
  toolCalls: Record<string, ToolCallRow>;
  ownCalls: boolean;
  ownSteps: boolean;
  ownVerification: boolean;
}

function toolCallsForWrite(draft: ExecutionDraft): Record<string, ToolCallRow> {
  if (!draft.ownCalls) {
    draft.toolCalls = { ...draft.toolCalls };
    draft.ownCalls = true;
  }
  return draft.toolCalls;
}

function recordStep(
  draft: ExecutionDraft,
  event: RecordedEventOf<"execution.step_started" | "execution.step_completed">,
): void {
  const ex = draft.execution;
  const p = event.payload;
  if (!draft.ownSteps) {
    ex.steps = { ...ex.steps };
    draft.ownSteps = true;
  }
  ex.steps[p.step_id] = {
    action_id: p.action_id,
    status: p.status,
    tool_call_id: p.tool_call_id ?? null,
    detail: p.detail ?? null,
    updated_at: event.occurred_at,
  };
}

function recordVerification(
  draft: ExecutionDraft,
  event: RecordedEventOf<"execution.verified" | "execution.verification_failed">,
): void {
  const ex = draft.execution;
  const p = event.payload;
  const passed = event.type === "execution.verified";
  if (!passed) ex.status = "verification_failed";
  if (!draft.ownVerification) {
    ex.verification = [...ex.verification];
    draft.ownVerification = true;
  }
  ex.verification.push({ step_id: p.step_id ?? null, passed, checks: p.checks, at: event.occurred_at });
}

function finish(
  status: ExecutionViewStatus,
): (
  draft: ExecutionDraft,
  event: RecordedEventOf<"execution.succeeded" | "execution.failed" | "execution.cancelled">,
) => void {
  return ({ execution: ex }, event) => {
    ex.status = status;
    ex.reason = event.payload.reason ?? ex.reason;
    ex.finished_at = event.occurred_at;
  };
}

const executionHandlers = {
  "execution.requested": (draft, event) => {
    const ex = draft.execution;
    const p = event.payload;
    ex.plan_id = p.plan_id;
    ex.revision = p.revision;
    ex.dry_run = p.dry_run;
    ex.actor_id = event.actor.id;
    ex.correlation_id = event.correlation_id;
    if (!draft.existed) ex.created_at = event.occurred_at;
  },
  "execution.started": ({ execution: ex }, event) => {
    const p = event.payload;
    ex.status = "running";
    ex.plan_id = ex.plan_id ?? p.plan_id;
    ex.workflow_id = p.workflow_id;
    ex.run_id = p.run_id ?? null;
    ex.started_at = event.occurred_at;
  },
  "execution.step_started": recordStep,
  "execution.step_completed": recordStep,
  "execution.verified": recordVerification,
  "execution.verification_failed": recordVerification,
  "execution.rollback_started": ({ execution: ex }, event) => {
    ex.status = "rolling_back";
    ex.reason = event.payload.reason;
  },
  "execution.rolled_back": ({ execution: ex }, event) => {
    ex.status = "rolled_back";
    ex.reason = event.payload.reason;
  },
  // A request to stop: the status changes when the workflow records `execution.cancelled`.
  "execution.cancel_requested": () => {},
  // Waiting for a person's verdict on an inconclusive analysis (until the event's deadline).
  "execution.paused": ({ execution: ex }) => {
    ex.status = "paused";
  },
  // The verdict is given: the workflow goes on with it. A verdict that came after the pause had
  // ended (its deadline, a cancel) changes nothing: the workflow's own events already did.
  "execution.verdict_requested": ({ execution: ex }) => {
    if (ex.status === "paused") ex.status = "running";
  },
  // A measurement's row is the measurements table's (measurements.ts); the execution row only moves
  // its last_seq and updated_at, as for every event, so a reader waiting for it sees it folded.
  "execution.measured": () => {},
  "execution.succeeded": finish("succeeded"),
  "execution.failed": finish("failed"),
  "execution.cancelled": finish("cancelled"),
  // A notice to Grafana, PagerDuty, Linear or GitHub changes no column: the audit and the execution's events show it.
  "execution.notified": () => {},
  "tool_call.started": (draft, event) => {
    const p = event.payload;
    const calls = toolCallsForWrite(draft);
    const prior = calls[p.tool_call_id] ?? emptyToolCall(p.tool_call_id, draft.executionId, event);
    calls[p.tool_call_id] = {
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
  },
  "tool_call.completed": (draft, event) => {
    const p = event.payload;
    const calls = toolCallsForWrite(draft);
    const prior = calls[p.tool_call_id] ?? emptyToolCall(p.tool_call_id, draft.executionId, event);
    calls[p.tool_call_id] = {
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
  },
} satisfies EventHandlers<ExecutionEventType, ExecutionDraft>;

const executions = handlerTable<ExecutionEventType, ExecutionDraft>(executionHandlers);

/** The event types the executions read model folds: its handlers' keys. */
export const EXECUTION_EVENT_TYPES: ReadonlySet<EventType> = executions.types;

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
  let draft: ExecutionDraft | null = null;
  for (const event of events) {
    if (!executions.handles(event)) continue;
    if (draft === null) {
      // A view may hold tool calls but no execution row yet (loaded from tool_calls alone).
      const prior = view?.execution;
      draft = {
        executionId: event.aggregate_id,
        execution: prior ? { ...prior } : emptyExecution(event.aggregate_id, event),
        existed: prior !== undefined,
        toolCalls: (view?.toolCalls ?? {}) as Record<string, ToolCallRow>,
        ownCalls: false,
        ownSteps: false,
        ownVerification: false,
      };
    } else {
      draft.existed = true;
    }
    draft.execution.updated_at = event.occurred_at;
    draft.execution.last_seq = event.seq;
    executions.apply(draft, event);
  }
  if (draft === null) return view;
  return { execution: draft.execution, toolCalls: draft.toolCalls };
}

/**
 * The execution aggregate's rules, as a pure decider: who may ask a running
 * execution to stop, or judge its paused verification, and when. The
 * execution's events are recorded by the gateway (`execution.requested`,
 * `execution.cancel_requested`, `execution.verdict_requested`), the
 * orchestrator (the workflow's `execution.*`) and the tool router
 * (`tool_call.*`); only a person's requests are decided here. The workflow
 * acts on them when the orchestrator relays them as its `cancel` and
 * `verdict` signals.
 *
 * The plan's requester comes in with the command (the caller reads the
 * plan): the decider stays a function of one aggregate's events.
 */
import type { AnyEvent } from "../../events/index.ts";
import { ConflictError, ForbiddenError, NotFoundError } from "../errors/index.ts";
import { assertNever } from "./plan-types.ts";

/** One execution per plan revision (and one dry run of it), whoever starts it: a person or policy. */
export function executionIdOf(planId: string, revision: number, dryRun = false): string {
  return `${planId}-r${revision}${dryRun ? "-dry" : ""}`;
}

export type ExecutionEnd = "succeeded" | "failed" | "cancelled";

interface Requested {
  readonly executionId: string;
  readonly planId: string;
  /** Whoever recorded `execution.requested` (a person, or the orchestrator for policy). */
  readonly requestedBy: string;
  /** Set by `execution.cancel_requested`: the first request to stop. */
  readonly cancelRequested: { readonly by: string; readonly reason: string } | null;
  /** Set by `execution.paused`, cleared once the workflow goes on (a verdict, a measurement, verification's end). */
  readonly paused: Pause | null;
  /** The last verdict given, to say so when another comes for a pause that has ended. */
  readonly lastVerdict: { readonly stepId: string; readonly decision: VerdictDecision; readonly by: string } | null;
}

/** An analysis paused as inconclusive, waiting for a person's verdict until `deadline`. */
export interface Pause {
  readonly stepId: string;
  readonly check: string;
  /** ISO 8601; past it the workflow fails the check. */
  readonly deadline: string;
}

export type VerdictDecision = "pass" | "fail";

export type ExecutionState =
  | { readonly status: "empty" }
  | ({ readonly status: "requested" | "running" } & Requested)
  | ({ readonly status: "finished"; readonly outcome: ExecutionEnd } & Requested);

interface ExecutionCommandBase {
  readonly executionId: string;
  readonly reason: string;
  readonly actor: AnyEvent["actor"];
  /** Who requested the plan the execution runs (read by the caller); null when unknown. */
  readonly planRequestedBy: string | null;
  readonly now: Date;
}

export type ExecutionCommand =
  /** Asks a running (or not yet started) execution to stop before its next step. */
  | ({ readonly type: "CancelExecution" } & ExecutionCommandBase)
  /** Judges the analysis the execution has paused on: `pass` goes on, `fail` fails it (and rolls back). */
  | ({ readonly type: "GiveVerdict"; readonly decision: VerdictDecision } & ExecutionCommandBase);

export type ExecutionCommandDraft =
  | {
      readonly type: "execution.cancel_requested";
      readonly aggregateType: "execution";
      readonly payload: { execution_id: string; reason: string; requested_by: string };
    }
  | {
      readonly type: "execution.verdict_requested";
      readonly aggregateType: "execution";
      readonly payload: {
        execution_id: string;
        step_id: string;
        decision: VerdictDecision;
        reason: string;
        requested_by: string;
      };
    };

export const initialExecutionState: ExecutionState = { status: "empty" };

/** Folds one event into the execution's state; other events leave it unchanged. */
export function evolveExecution(state: ExecutionState, event: AnyEvent): ExecutionState {
  switch (event.type) {
    case "execution.requested":
      if (state.status !== "empty") return state;
      return {
        status: "requested",
        executionId: event.payload.execution_id,
        planId: event.payload.plan_id,
        requestedBy: event.actor.id,
        cancelRequested: null,
        paused: null,
        lastVerdict: null,
      };
    case "execution.started":
      return state.status === "requested" ? { ...state, status: "running" } : state;
    case "execution.cancel_requested":
      if (state.status === "empty" || state.cancelRequested !== null) return state;
      return { ...state, cancelRequested: { by: event.payload.requested_by, reason: event.payload.reason } };
    case "execution.paused":
      if (state.status === "empty") return state;
      return {
        ...state,
        paused: { stepId: event.payload.step_id, check: event.payload.check, deadline: event.payload.deadline },
      };
    case "execution.verdict_requested":
      if (state.status === "empty" || state.paused?.stepId !== event.payload.step_id) return state;
      return {
        ...state,
        paused: null,
        lastVerdict: {
          stepId: event.payload.step_id,
          decision: event.payload.decision,
          by: event.payload.requested_by,
        },
      };
    // The workflow has gone on without a verdict (or with one not recorded here): nothing is paused.
    case "execution.measured":
    case "execution.verified":
    case "execution.verification_failed":
    case "execution.rollback_started":
      if (state.status === "empty" || state.paused === null) return state;
      return { ...state, paused: null };
    case "execution.succeeded":
    case "execution.failed":
    case "execution.cancelled":
      if (state.status === "empty") return state;
      return {
        ...state,
        status: "finished",
        outcome: event.type.slice("execution.".length) as ExecutionEnd,
        paused: null,
      };
    default:
      return state;
  }
}

export function decideExecutionCommand(command: ExecutionCommand, state: ExecutionState): ExecutionCommandDraft[] {
  switch (command.type) {
    case "GiveVerdict":
      return decideVerdict(command, state);
    case "CancelExecution": {
      const live = liveExecution(state, command.executionId, {
        nothing: "nothing to cancel",
        fix: "only a running execution can be cancelled; to undo its change, request a new plan",
      });
      const { actor } = command;
      requireOwner(command, live, {
        may: "cancel",
        fix: "ask whoever requested the plan or the execution, or an administrator, to cancel it",
      });
      // Asked already: the workflow has it (or will); a second request records nothing.
      if (live.cancelRequested !== null) return [];
      return [
        {
          type: "execution.cancel_requested",
          aggregateType: "execution",
          payload: { execution_id: command.executionId, reason: command.reason, requested_by: actor.id },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

function decideVerdict(
  command: Extract<ExecutionCommand, { type: "GiveVerdict" }>,
  state: ExecutionState,
): ExecutionCommandDraft[] {
  const id = command.executionId;
  const live = liveExecution(state, id, {
    nothing: "there is no verdict to give",
    fix: "only an execution whose verification is paused (status paused) takes a verdict",
  });
  const { actor } = command;
  requireOwner(command, live, {
    may: "give a verdict on",
    fix: "ask whoever requested the plan or the execution, or an administrator, to judge it",
  });
  const { paused } = live;
  if (paused === null) {
    const judged = live.lastVerdict;
    const since = judged
      ? `; its pause on step ${judged.stepId} was already judged ${judged.decision} by ${judged.by}`
      : "";
    const now = live.status === "requested" ? "has not started yet" : "is running";
    throw new ConflictError(`execution ${id} ${now} and is not paused${since}: there is no verdict to give`, {
      field: "id",
      fix: 'only an analysis paused as inconclusive (on_inconclusive: "pause") takes a verdict; wait until the execution\'s status is paused (GET /v1/executions/{id})',
      extra: { execution_status: live.status },
    });
  }
  if (live.cancelRequested !== null) {
    const c = live.cancelRequested;
    throw new ConflictError(`execution ${id} is being cancelled (by ${c.by}: ${c.reason}); the cancel ends its pause`, {
      field: "id",
      fix: "a cancelled execution takes no verdict; its change stays as it was made, request a new plan to undo it",
      extra: { execution_status: "paused" },
    });
  }
  if (command.now.getTime() >= Date.parse(paused.deadline)) {
    throw new ConflictError(
      `execution ${id}'s pause on step ${paused.stepId} ended at ${paused.deadline} without a verdict; the check fails`,
      {
        field: "id",
        fix: "a verdict is taken only before the pause's deadline; follow the execution's rollback, then request a new plan if the change is still wanted",
        extra: { execution_status: "paused", deadline: paused.deadline },
      },
    );
  }
  return [
    {
      type: "execution.verdict_requested",
      aggregateType: "execution",
      payload: {
        execution_id: id,
        step_id: paused.stepId,
        decision: command.decision,
        reason: command.reason,
        requested_by: actor.id,
      },
    },
  ];
}

type LiveExecution = Extract<ExecutionState, { status: "requested" | "running" }>;

/** The state of an execution a request acts on: 404 when there is none, 409 when it has ended. */
function liveExecution(
  state: ExecutionState,
  id: string,
  ended: { readonly nothing: string; readonly fix: string },
): LiveExecution {
  switch (state.status) {
    case "empty":
      throw new NotFoundError(`execution ${id} does not exist`, {
        field: "id",
        fix: "list executions with GET /v1/executions and use one of their ids",
      });
    case "finished":
      // `execution_status`, not `status`: extras go into the problem body beside its HTTP status.
      throw new ConflictError(`execution ${id} has already ended (${state.outcome}); ${ended.nothing}`, {
        field: "id",
        fix: ended.fix,
        extra: { execution_status: state.outcome },
      });
    case "requested":
    case "running":
      return state;
    default:
      return assertNever(state);
  }
}

/** Cancels and verdicts are for whoever requested the execution or its plan, or an admin (403). */
function requireOwner(
  command: ExecutionCommandBase,
  live: LiveExecution,
  refused: { readonly may: string; readonly fix: string },
): void {
  const { actor } = command;
  if (actor.roles.includes("admin") || [live.requestedBy, command.planRequestedBy].includes(actor.id)) return;
  throw new ForbiddenError(`${actor.id} may not ${refused.may} execution ${command.executionId}`, {
    field: "id",
    fix: refused.fix,
    extra: { reason: "not_owner" },
  });
}

/** The execution aggregate as a decider value; `type` names the stream the command path reads. */
export const executionDecider = {
  type: "execution",
  decide: decideExecutionCommand,
  evolve: evolveExecution,
  initialState: initialExecutionState,
} as const;

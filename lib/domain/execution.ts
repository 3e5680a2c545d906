/**
 * The execution aggregate's rules, as a pure decider: who may ask a running
 * execution to stop, and when. The execution's events are recorded by the
 * gateway (`execution.requested`, `execution.cancel_requested`), the
 * orchestrator (the workflow's `execution.*`) and the tool router
 * (`tool_call.*`); only the request to cancel is decided here. The workflow
 * itself stops before its next step when the orchestrator relays the request
 * as its `cancel` signal.
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
}

export type ExecutionState =
  | { readonly status: "empty" }
  | ({ readonly status: "requested" | "running" } & Requested)
  | ({ readonly status: "finished"; readonly outcome: ExecutionEnd } & Requested);

export type ExecutionCommand = {
  /** Asks a running (or not yet started) execution to stop before its next step. */
  readonly type: "CancelExecution";
  readonly executionId: string;
  readonly reason: string;
  readonly actor: AnyEvent["actor"];
  /** Who requested the plan the execution runs (read by the caller); null when unknown. */
  readonly planRequestedBy: string | null;
  readonly now: Date;
};

export type ExecutionCommandDraft = {
  readonly type: "execution.cancel_requested";
  readonly aggregateType: "execution";
  readonly payload: { execution_id: string; reason: string; requested_by: string };
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
      };
    case "execution.started":
      return state.status === "requested" ? { ...state, status: "running" } : state;
    case "execution.cancel_requested":
      if (state.status === "empty" || state.cancelRequested !== null) return state;
      return { ...state, cancelRequested: { by: event.payload.requested_by, reason: event.payload.reason } };
    case "execution.succeeded":
    case "execution.failed":
    case "execution.cancelled":
      if (state.status === "empty") return state;
      return { ...state, status: "finished", outcome: event.type.slice("execution.".length) as ExecutionEnd };
    default:
      return state;
  }
}

export function decideExecutionCommand(command: ExecutionCommand, state: ExecutionState): ExecutionCommandDraft[] {
  switch (command.type) {
    case "CancelExecution": {
      switch (state.status) {
        case "empty":
          throw new NotFoundError(`execution ${command.executionId} does not exist`, {
            field: "id",
            fix: "list executions with GET /v1/executions and use one of their ids",
          });
        case "finished":
          // `execution_status`, not `status`: extras go into the problem body beside its HTTP status.
          throw new ConflictError(
            `execution ${command.executionId} has already ended (${state.outcome}); nothing to cancel`,
            {
              field: "id",
              fix: "only a running execution can be cancelled; to undo its change, request a new plan",
              extra: { execution_status: state.outcome },
            },
          );
        case "requested":
        case "running":
          break;
        default:
          return assertNever(state);
      }
      const { actor } = command;
      const owners = [state.requestedBy, command.planRequestedBy];
      if (!actor.roles.includes("admin") && !owners.includes(actor.id)) {
        throw new ForbiddenError(`${actor.id} may not cancel execution ${command.executionId}`, {
          field: "id",
          fix: "ask whoever requested the plan or the execution, or an administrator, to cancel it",
          extra: { reason: "not_owner" },
        });
      }
      // Asked already: the workflow has it (or will); a second request records nothing.
      if (state.cancelRequested !== null) return [];
      return [
        {
          type: "execution.cancel_requested",
          aggregateType: "execution",
          payload: { execution_id: command.executionId, reason: command.reason, requested_by: actor.id },
        },
      ];
    }
    default:
      return assertNever(command.type);
  }
}

/** The execution aggregate as a decider value; `type` names the stream the command path reads. */
export const executionDecider = {
  type: "execution",
  decide: decideExecutionCommand,
  evolve: evolveExecution,
  initialState: initialExecutionState,
} as const;

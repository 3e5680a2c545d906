/**
 * `POST /v1/executions/{id}:cancel`: asks a running execution to stop before
 * its next step. The execution decider (lib/domain/execution.ts) decides who
 * may (whoever requested the execution or its plan, or an admin) and when
 * (not once it has finished: 409; unknown: 404); the gateway appends
 * `execution.cancel_requested` guarded by the execution's version and answers
 * 202. The orchestrator relays it to the workflow's `cancel` signal, and the
 * workflow records `execution.cancelled` when it stops. A repeated request
 * answers 202 with `duplicate: true` and the first request's sequence.
 *
 * Every person's request to a running execution takes the path here (`requestToExecution`): the
 * cancel, and the verdict on a paused analysis (verdict.ts).
 *
 * A running execution keeps recording (tool calls, measurements) while the request is decided, so an
 * append refused because the execution moved on is decided again on what it has become (a few times):
 * the guard is the gateway's own read, not the caller's, and it stays what keeps a cancel off an
 * execution that ended in between.
 */
import type * as v from "valibot";
import {
  decideExecutionCommand,
  type ExecutionCommand,
  type ExecutionCommandDraft,
  envelopeDrafts,
  executionDecider,
} from "../../lib/domain/index.ts";
import { ConflictError } from "../../lib/errors/index.ts";
import { handleCommand } from "../../lib/eventstore/index.ts";
import { CancelExecutionRequestSchema, ExecutionIdParamsSchema } from "../../schemas/api/index.ts";
import { type ApiRequest, type ApiResponse, parseInput } from "./api.ts";
import { actorOf, type CommandDeps, executionAnswer, meta, scopedIdempotencyKey } from "./commands.ts";

export function cancelExecution(deps: CommandDeps, request: ApiRequest): Promise<ApiResponse> {
  return requestToExecution(deps, request, {
    operation: "cancel",
    body: CancelExecutionRequestSchema,
    recorded: "execution.cancel_requested",
    command: (input, on) => ({ type: "CancelExecution", ...on, reason: deps.scrub(input.reason) }),
  });
}

/** What every command on a running execution is decided with, besides its own fields. */
type ExecutionCommandContext = Pick<ExecutionCommand, "executionId" | "actor" | "planRequestedBy" | "now">;

/** One kind of request to a running execution: its body, the event it records, the command it decides. */
export interface ExecutionRequestSpec<Body extends v.GenericSchema> {
  /** Scopes the Idempotency-Key: `cancel`, `verdict`. */
  readonly operation: string;
  readonly body: Body;
  /** The event the decider records for it (a repeat the decider records nothing for answers with the first). */
  readonly recorded: ExecutionCommandDraft["type"];
  readonly command: (input: v.InferOutput<Body>, on: ExecutionCommandContext) => ExecutionCommand;
}

/**
 * A person's request to the execution `{id}`: validated (params, then body), decided by the execution
 * decider on the execution as it is (decided again when it moved on in between), appended guarded by
 * its version, answered 202. The plan's requester comes in with the command: whoever asked for the
 * plan may act on its executions, also the ones policy started for them.
 */
export async function requestToExecution<Body extends v.GenericSchema>(
  deps: CommandDeps,
  request: ApiRequest,
  spec: ExecutionRequestSpec<Body>,
): Promise<ApiResponse> {
  const actor = actorOf(request);
  const { id: executionId } = parseInput(ExecutionIdParamsSchema, request.params, "params");
  const input = parseInput(spec.body, request.body, "body");
  const idempotencyKey = scopedIdempotencyKey(request, `${spec.operation}:${executionId}`);
  const { accept, earlier } = await executionAnswer(deps, request, executionId, idempotencyKey);
  if (earlier) return earlier;
  const now = deps.now();
  const { appended, read } = await decideAgainWhenMoved(() =>
    handleCommand(
      deps.store,
      executionDecider,
      executionId,
      async (state) => {
        const planId = state.status === "empty" ? null : state.planId;
        const planRequested = planId
          ? (await deps.store.readAggregate("plan", planId)).find((e) => e.type === "plan.requested")
          : undefined;
        const command = spec.command(input, {
          executionId,
          actor,
          planRequestedBy: planRequested?.actor.id ?? null,
          now,
        });
        return envelopeDrafts(decideExecutionCommand(command, state), executionId, meta(request, actor, now));
      },
      { idempotencyKey },
    ),
  );
  if (appended) return accept(appended);
  // Asked already: answer with the request on record.
  const first = read.events.find((e) => e.type === spec.recorded);
  const seq = first?.seq ?? read.version;
  return accept({ seqs: [seq], version: read.version, duplicate: true });
}

/** Times a request is decided again when the execution recorded something between the read and the append. */
const ATTEMPTS = 5;

/**
 * Runs `command` again while its append is refused for the version (ConflictError with
 * `current_version`, lib/eventstore); the decider's own refusals (409 for a finished execution) carry
 * no version and pass at once.
 */
async function decideAgainWhenMoved<T>(command: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await command();
    } catch (error) {
      const moved = error instanceof ConflictError && error.extra?.current_version !== undefined;
      if (!moved || attempt >= ATTEMPTS) throw error;
    }
  }
}

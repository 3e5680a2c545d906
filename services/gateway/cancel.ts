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
 * A running execution keeps recording (tool calls, measurements) while the request is decided, so an
 * append refused because the execution moved on is decided again on what it has become (a few times):
 * the guard is the gateway's own read, not the caller's, and it stays what keeps a cancel off an
 * execution that ended in between.
 */
import { decideExecutionCommand, envelopeDrafts, executionDecider } from "../../lib/domain/index.ts";
import { ConflictError } from "../../lib/errors/index.ts";
import { type AppendOutcome, handleCommand } from "../../lib/eventstore/index.ts";
import { CancelExecutionRequestSchema, ExecutionIdParamsSchema } from "../../schemas/api/index.ts";
import { type ApiRequest, type ApiResponse, parseInput } from "./api.ts";
import { accepted, actorOf, type CommandDeps, earlierAppend, meta, scopedIdempotencyKey } from "./commands.ts";

export async function cancelExecution(deps: CommandDeps, request: ApiRequest): Promise<ApiResponse> {
  const actor = actorOf(request);
  const { id: executionId } = parseInput(ExecutionIdParamsSchema, request.params, "params");
  const input = parseInput(CancelExecutionRequestSchema, request.body, "body");
  const idempotencyKey = scopedIdempotencyKey(request, `cancel:${executionId}`);
  const cancelAccepted = (result: AppendOutcome) =>
    accepted(
      deps,
      request,
      result,
      { id: executionId, kind: "execution", location: `/v1/executions/${executionId}` },
      { kind: "execution", id: executionId },
    );
  const earlier = await earlierAppend(deps.store, request, "execution", executionId, idempotencyKey);
  if (earlier) return cancelAccepted(earlier.result);
  const now = deps.now();
  const { appended, read } = await decideAgainWhenMoved(() =>
    handleCommand(
      deps.store,
      executionDecider,
      executionId,
      async (state) => {
        // Whoever asked for the plan may stop its executions, also the ones policy started for them.
        const planId = state.status === "empty" ? null : state.planId;
        const planRequested = planId
          ? (await deps.store.readAggregate("plan", planId)).find((e) => e.type === "plan.requested")
          : undefined;
        const drafts = decideExecutionCommand(
          {
            type: "CancelExecution",
            executionId,
            reason: deps.scrub(input.reason),
            actor,
            planRequestedBy: planRequested?.actor.id ?? null,
            now,
          },
          state,
        );
        return envelopeDrafts(drafts, executionId, meta(request, actor, now));
      },
      { idempotencyKey },
    ),
  );
  if (appended) return cancelAccepted(appended);
  // Asked already: answer with the request on record.
  const first = read.events.find((e) => e.type === "execution.cancel_requested");
  const seq = first?.seq ?? read.version;
  return cancelAccepted({ seqs: [seq], version: read.version, duplicate: true });
}

/** Times a cancel is decided again when the execution recorded something between the read and the append. */
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

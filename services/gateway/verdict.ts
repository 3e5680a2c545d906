/**
 * `POST /v1/executions/{id}:verdict` {decision, reason}: a person's verdict on the verification
 * analysis an execution has paused on (`on_inconclusive: "pause"`, status `paused`). The execution
 * decider (lib/domain/execution.ts) decides who may (as for a cancel: whoever requested the
 * execution or its plan, or an admin; 403 otherwise) and when: 404 unknown, 409 finished, 409 not
 * paused (naming what it is doing instead, and a verdict already given), 409 past the pause's
 * deadline or while a cancel ends it. The gateway appends `execution.verdict_requested` (naming the
 * paused step) and answers 202; the orchestrator relays it to the workflow's `verdict` signal, and
 * the check's outcome is recorded on `execution.verified` or `execution.verification_failed`.
 */
import { VerdictExecutionRequestSchema } from "../../schemas/api/index.ts";
import type { ApiRequest, ApiResponse } from "./api.ts";
import { requestToExecution } from "./cancel.ts";
import type { CommandDeps } from "./commands.ts";

export function giveVerdict(deps: CommandDeps, request: ApiRequest): Promise<ApiResponse> {
  return requestToExecution(deps, request, {
    operation: "verdict",
    body: VerdictExecutionRequestSchema,
    recorded: "execution.verdict_requested",
    command: (input, on) => ({
      type: "GiveVerdict",
      ...on,
      decision: input.decision,
      reason: deps.scrub(input.reason),
    }),
  });
}

/** The plan decider's shared guard: the plan is decided, on the revision the command names. */
import { ConflictError } from "../errors/index.ts";
import { assertNever, type PlanState } from "./plan-types.ts";

/** The decided state of `revision`, or a `ConflictError` saying why the plan cannot be `verb` now. */
export function decidedState(
  state: PlanState,
  planId: string,
  revision: number,
  verb: string,
): Extract<PlanState, { status: "decided" }> {
  switch (state.status) {
    case "empty":
      throw new ConflictError(`plan ${planId} does not exist`, {
        field: "plan_id",
        fix: "create the plan with POST /v1/plans first",
        extra: { current_status: "empty" },
      });
    case "requested":
    case "proposed":
      throw new ConflictError(`plan ${planId} has no policy decision yet; it cannot be ${verb}`, {
        field: "plan_id",
        fix: "wait until the plan is proposed and decided (GET /v1/plans/{id}), then retry",
        extra: { current_status: state.status },
      });
    case "failed":
      throw new ConflictError(`plan ${planId} failed to plan; it cannot be ${verb}`, {
        field: "plan_id",
        fix: "request a new plan",
        extra: { current_status: "failed" },
      });
    case "decided":
      if (state.revision !== revision) {
        throw new ConflictError(`plan ${planId} is at revision ${state.revision}, not ${revision}`, {
          field: "revision",
          fix: `review revision ${state.revision} and send that number`,
          extra: { current_revision: state.revision },
        });
      }
      return state;
    default:
      return assertNever(state);
  }
}

/** The execution decider: who may ask an execution to stop, and when. Given / when / then. */
import { describe, it } from "node:test";
import { type Actor, newEvent } from "../../events/index.ts";
import { ConflictError, ForbiddenError, NotFoundError } from "../errors/index.ts";
import { type ExecutionCommand, executionDecider, executionIdOf } from "./execution.ts";
import { DeciderSpecification } from "./testing.ts";

const alice: Actor = { kind: "user", id: "alice", roles: ["operator"] };
const dave: Actor = { kind: "user", id: "dave", roles: ["operator"] };
const carol: Actor = { kind: "user", id: "carol", roles: ["admin"] };
const orchestrator: Actor = { kind: "service", id: "orchestrator", roles: [] };
const T0 = new Date("2026-03-01T10:00:00.000Z");
const X = executionIdOf("p1", 1);
const meta = (actor: Actor) => ({ actor, correlation_id: "c1", occurred_at: T0.toISOString() });

const requested = (by: Actor = alice) =>
  newEvent("execution.requested", X, { execution_id: X, plan_id: "p1", revision: 1 }, meta(by));
const started = () =>
  newEvent("execution.started", X, { execution_id: X, plan_id: "p1", workflow_id: X }, meta(orchestrator));
const finished = (type: "execution.succeeded" | "execution.failed" | "execution.cancelled") =>
  newEvent(type, X, { execution_id: X, plan_id: "p1" }, meta(orchestrator));
const cancelRequested = (by: Actor) =>
  newEvent(
    "execution.cancel_requested",
    X,
    { execution_id: X, reason: "wrong cluster", requested_by: by.id },
    meta(by),
  );

const cancel = (actor: Actor, planRequestedBy: string | null = "alice"): ExecutionCommand => ({
  type: "CancelExecution",
  executionId: X,
  reason: "wrong cluster",
  actor,
  planRequestedBy,
  now: T0,
});
const cancelRequestedBy = (actor: Actor) => [
  {
    type: "execution.cancel_requested" as const,
    aggregateType: "execution" as const,
    payload: { execution_id: X, reason: "wrong cluster", requested_by: actor.id },
  },
];

const { given } = DeciderSpecification.for(executionDecider);

describe("execution decider: CancelExecution", () => {
  it("the requester cancels a running execution", () => {
    given([requested(), started()]).when(cancel(alice)).then(cancelRequestedBy(alice));
  });

  it("one not started yet can be cancelled too", () => {
    given([requested()]).when(cancel(alice)).then(cancelRequestedBy(alice));
  });

  it("the plan's requester cancels an execution policy started", () => {
    given([requested(orchestrator), started()])
      .when(cancel(dave, "dave"))
      .then(cancelRequestedBy(dave));
  });

  it("an admin cancels anyone's", () => {
    given([requested(), started()]).when(cancel(carol)).then(cancelRequestedBy(carol));
  });

  it("another operator may not", () => {
    given([requested(), started()]).when(cancel(dave)).thenThrows(ForbiddenError, { field: "id" });
  });

  it("an unknown execution is not found", () => {
    given([]).when(cancel(alice)).thenThrows(NotFoundError, { field: "id" });
  });

  for (const end of ["execution.succeeded", "execution.failed", "execution.cancelled"] as const) {
    it(`one that has ${end.slice(10)} is a conflict`, () => {
      given([requested(), started(), finished(end)])
        .when(cancel(alice))
        .thenThrows(ConflictError, { field: "id", extra: { execution_status: end.slice(10) } });
    });
  }

  it("a second request records nothing", () => {
    given([requested(), started(), cancelRequested(alice)])
      .when(cancel(carol))
      .thenNothing();
  });
});

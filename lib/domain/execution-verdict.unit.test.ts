/** The execution decider's `GiveVerdict`: who may judge a paused analysis, and when. Given / when / then. */
import assert from "node:assert/strict";
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
const DEADLINE = "2026-03-01T11:00:00.000Z";
const X = executionIdOf("p1", 1);
const meta = (actor: Actor) => ({ actor, correlation_id: "c1", occurred_at: T0.toISOString() });

const requested = (by: Actor = alice) =>
  newEvent("execution.requested", X, { execution_id: X, plan_id: "p1", revision: 1 }, meta(by));
const started = () =>
  newEvent("execution.started", X, { execution_id: X, plan_id: "p1", workflow_id: X }, meta(orchestrator));
const paused = (stepId = "s1") =>
  newEvent(
    "execution.paused",
    X,
    {
      execution_id: X,
      step_id: stepId,
      check: "quiet's error ratio stays low",
      reason: "inconclusive: no measurement passed",
      attempts: 1,
      deadline: DEADLINE,
    },
    meta(orchestrator),
  );
const verdictGiven = (by: Actor, stepId = "s1") =>
  newEvent(
    "execution.verdict_requested",
    X,
    { execution_id: X, step_id: stepId, decision: "pass", reason: "no traffic at night", requested_by: by.id },
    meta(by),
  );
const measured = () =>
  newEvent(
    "execution.measured",
    X,
    {
      execution_id: X,
      step_id: "s2",
      provider: "prometheus",
      query: "up",
      attempt: 1,
      value: 1,
      outcome: "pass",
      reason: "1: result == 1 holds",
      measured_at: T0.toISOString(),
    },
    meta(orchestrator),
  );
const ended = (type: "execution.succeeded" | "execution.failed" | "execution.cancelled") =>
  newEvent(type, X, { execution_id: X, plan_id: "p1" }, meta(orchestrator));
const verificationFailed = () =>
  newEvent("execution.verification_failed", X, { execution_id: X, checks: [] }, meta(orchestrator));
const cancelRequested = (by: Actor) =>
  newEvent(
    "execution.cancel_requested",
    X,
    { execution_id: X, reason: "wrong cluster", requested_by: by.id },
    meta(by),
  );

const verdict = (
  actor: Actor,
  decision: "pass" | "fail" = "pass",
  options: { planRequestedBy?: string | null; now?: Date } = {},
): ExecutionCommand => ({
  type: "GiveVerdict",
  executionId: X,
  decision,
  reason: "no traffic at night",
  actor,
  planRequestedBy: options.planRequestedBy === undefined ? "alice" : options.planRequestedBy,
  now: options.now ?? T0,
});
const verdictBy = (actor: Actor, decision: "pass" | "fail" = "pass", stepId = "s1") => [
  {
    type: "execution.verdict_requested" as const,
    aggregateType: "execution" as const,
    payload: { execution_id: X, step_id: stepId, decision, reason: "no traffic at night", requested_by: actor.id },
  },
];

const { given } = DeciderSpecification.for(executionDecider);

describe("execution decider: GiveVerdict", () => {
  it("the requester passes a paused analysis", () => {
    given([requested(), started(), paused()]).when(verdict(alice)).then(verdictBy(alice));
  });

  it("the requester fails it", () => {
    given([requested(), started(), paused()]).when(verdict(alice, "fail")).then(verdictBy(alice, "fail"));
  });

  it("the plan's requester judges an execution policy started, and an admin anyone's", () => {
    given([requested(orchestrator), started(), paused()])
      .when(verdict(dave, "pass", { planRequestedBy: "dave" }))
      .then(verdictBy(dave));
    given([requested(), started(), paused()]).when(verdict(carol)).then(verdictBy(carol));
  });

  it("the verdict names the step paused now, not an earlier one", () => {
    given([requested(), started(), paused("s1"), verdictGiven(alice, "s1"), measured(), paused("s2")])
      .when(verdict(alice, "fail"))
      .then(verdictBy(alice, "fail", "s2"));
  });

  it("another operator may not", () => {
    given([requested(), started(), paused()]).when(verdict(dave)).thenThrows(ForbiddenError, { field: "id" });
  });

  it("an unknown execution is not found", () => {
    given([]).when(verdict(alice)).thenThrows(NotFoundError, { field: "id" });
  });

  for (const end of ["execution.succeeded", "execution.failed", "execution.cancelled"] as const) {
    it(`one that has ${end.slice(10)} is a conflict naming its end`, () => {
      given([requested(), started(), paused(), ended(end)])
        .when(verdict(alice))
        .thenThrows(ConflictError, { field: "id", extra: { execution_status: end.slice(10) } });
    });
  }

  it("a running execution that is not paused is a conflict saying it is running", () => {
    given([requested(), started()])
      .when(verdict(alice))
      .thenThrows(ConflictError, (error) => {
        assert.match(error.message, /is running and is not paused: there is no verdict to give/);
        assert.equal(error.extra?.execution_status, "running");
        assert.match(error.fix ?? "", /on_inconclusive: "pause"/);
      });
  });

  it("one not started yet says so", () => {
    given([requested()])
      .when(verdict(alice))
      .thenThrows(ConflictError, (error) => assert.match(error.message, /has not started yet and is not paused/));
  });

  it("a second verdict on the same pause is a conflict naming the first", () => {
    given([requested(), started(), paused(), verdictGiven(alice)])
      .when(verdict(carol, "fail"))
      .thenThrows(ConflictError, (error) =>
        assert.match(error.message, /its pause on step s1 was already judged pass by alice/),
      );
  });

  it("a pause the workflow has gone on from (its verification failed at the deadline) takes no verdict", () => {
    given([requested(), started(), paused(), verificationFailed()])
      .when(verdict(alice))
      .thenThrows(ConflictError, { field: "id", extra: { execution_status: "running" } });
  });

  it("past the pause's deadline: a conflict naming the deadline", () => {
    given([requested(), started(), paused()])
      .when(verdict(alice, "pass", { now: new Date(DEADLINE) }))
      .thenThrows(ConflictError, (error) => {
        assert.match(error.message, /ended at 2026-03-01T11:00:00.000Z without a verdict/);
        assert.equal(error.extra?.deadline, DEADLINE);
      });
  });

  it("a paused execution being cancelled takes no verdict", () => {
    given([requested(), started(), paused(), cancelRequested(alice)])
      .when(verdict(alice))
      .thenThrows(ConflictError, (error) =>
        assert.match(error.message, /is being cancelled \(by alice: wrong cluster\)/),
      );
  });
});

/** The executions fold while verification waits for a person's verdict: status paused, then back. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Actor, type AnyEvent, newEvent } from "../../events/index.ts";
import { recorded } from "../../test/support/events.ts";
import { foldExecutionView } from "./fold.ts";

const X = "p1-r1";
const orchestrator = { actor: { kind: "service", id: "orchestrator", roles: [] } as Actor, correlation_id: "c" };
const alice = { actor: { kind: "user", id: "alice", roles: ["operator"] } as Actor, correlation_id: "c" };

const requested = newEvent("execution.requested", X, { execution_id: X, plan_id: "p1", revision: 1 }, alice);
const started = newEvent("execution.started", X, { execution_id: X, plan_id: "p1", workflow_id: X }, orchestrator);
const paused = newEvent(
  "execution.paused",
  X,
  {
    execution_id: X,
    step_id: "s1",
    check: "quiet's error ratio stays low",
    reason: "no measurement passed",
    attempts: 1,
    deadline: "2026-03-01T11:00:00.000Z",
  },
  orchestrator,
);
const verdict = newEvent(
  "execution.verdict_requested",
  X,
  { execution_id: X, step_id: "s1", decision: "pass", reason: "no traffic at night", requested_by: "alice" },
  alice,
);
const verified = newEvent("execution.verified", X, { execution_id: X, checks: [] }, orchestrator);
const verificationFailed = newEvent("execution.verification_failed", X, { execution_id: X, checks: [] }, orchestrator);
const succeeded = newEvent("execution.succeeded", X, { execution_id: X, plan_id: "p1" }, orchestrator);

const statusAfter = (events: AnyEvent[]) => foldExecutionView(null, recorded(events))?.execution.status;

describe("executions fold: a paused verification", () => {
  it("given a running execution, when its analysis pauses, then it is paused", () => {
    assert.equal(statusAfter([requested, started, paused]), "paused");
  });

  it("given a paused execution, when a verdict is given, then it is running again, and ends as the workflow records", () => {
    assert.equal(statusAfter([requested, started, paused, verdict]), "running");
    assert.equal(statusAfter([requested, started, paused, verdict, verified, succeeded]), "succeeded");
  });

  it("given a pause that ended at its deadline, when a late verdict comes, then it changes nothing", () => {
    assert.equal(statusAfter([requested, started, paused, verificationFailed]), "verification_failed");
    assert.equal(statusAfter([requested, started, paused, verificationFailed, verdict]), "verification_failed");
  });

  it("a verdict on an execution that is not paused leaves its status", () => {
    assert.equal(statusAfter([requested, started, verdict]), "running");
  });
});

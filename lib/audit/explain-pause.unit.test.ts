/**
 * A change's story while verification waits for a person's verdict: the execution's pauses (which
 * check stayed inconclusive, why, until when) and the verdict given on each, with the story's status
 * as the executions read model has it (paused, then running again).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Actor, type AnyEvent, newEvent } from "../../events/index.ts";
import { recorded } from "../../test/support/events.ts";
import type { EvidenceStore } from "../evidence/index.ts";
import { buildExplanation } from "./explain.ts";

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
    step_id: "s2",
    check: "release payments reports status deployed; payments's error ratio stays below 5%",
    reason: "prometheus answered no sample; 1 inconclusive measurement(s), more than the 0 allowed",
    attempts: 1,
    deadline: "2026-03-01T11:00:00.000Z",
  },
  orchestrator,
);
const verdict = (step_id: string) =>
  newEvent(
    "execution.verdict_requested",
    X,
    { execution_id: X, step_id, decision: "fail", reason: "no traffic to judge by", requested_by: "alice" },
    alice,
  );
const failed = newEvent("execution.verification_failed", X, { execution_id: X, checks: [] }, orchestrator);

/** Nothing in these stories names evidence to inline; a read would be a bug. */
const noEvidence = {
  readEvidence: () => Promise.reject(new Error("no evidence is read for these stories")),
} as unknown as EvidenceStore;

async function storyOf(events: AnyEvent[]) {
  const x = await buildExplanation({
    requestedId: X,
    planId: null,
    planEvents: [],
    executions: [recorded(events)],
    auditByEvent: new Map(),
    evidenceStore: noEvidence,
    verifyEvidence: false,
  });
  const story = x.executions[0];
  assert.ok(story, "the execution has a story");
  return story;
}

describe("explain: an execution paused for a verdict", () => {
  it("given a running execution, when its analysis pauses, then the story is paused and names the check", async () => {
    const story = await storyOf([requested, started, paused]);
    assert.equal(story.status, "paused");
    assert.equal(story.pauses.length, 1);
    const [pause] = story.pauses;
    assert.deepEqual(
      { ...pause, event: pause?.event.type },
      {
        step_id: "s2",
        check: "release payments reports status deployed; payments's error ratio stays below 5%",
        reason: "prometheus answered no sample; 1 inconclusive measurement(s), more than the 0 allowed",
        attempts: 1,
        deadline: "2026-03-01T11:00:00.000Z",
        event: "execution.paused",
        verdict: null,
      },
    );
  });

  it("given a paused execution, when a verdict is given, then the pause carries it and the story runs again", async () => {
    const story = await storyOf([requested, started, paused, verdict("s2")]);
    assert.equal(story.status, "running");
    const judged = story.pauses[0]?.verdict;
    assert.deepEqual(
      { ...judged, event: judged?.event.type },
      {
        decision: "fail",
        reason: "no traffic to judge by",
        requested_by: "alice",
        event: "execution.verdict_requested",
      },
    );
  });

  it("a verdict after the pause ended, or on another step, changes nothing", async () => {
    const late = await storyOf([requested, started, paused, failed, verdict("s2")]);
    assert.equal(late.status, "verification_failed");
    assert.equal(late.pauses[0]?.verdict, null);
    const elsewhere = await storyOf([requested, started, paused, verdict("s1")]);
    assert.equal(elsewhere.status, "paused");
    assert.equal(elsewhere.pauses[0]?.verdict, null);
  });

  it("an execution that never paused has no pauses", async () => {
    assert.deepEqual((await storyOf([requested, started])).pauses, []);
  });
});

/**
 * The plan decider's rules for running without a person in the loop at the moment of the call:
 * `AuthorizeWrite` (the orchestrator, right before each write) and `RequestExecution` with
 * `startedBy` (policy starting a stage-2 execution). Given / when / then.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Actor, newEvent } from "../../events/index.ts";
import { ConflictError, ForbiddenError } from "../errors/index.ts";
import { planRevisionDigest } from "./digest.ts";
import { evolve, type PlanCommand, type PlanEventDraft, type PlanState, planDecider } from "./plan.ts";
import { DeciderSpecification } from "./testing.ts";

const alice: Actor = { kind: "user", id: "alice", roles: ["operator"] };
const bob: Actor = { kind: "user", id: "bob", roles: ["approver"] };
const carol: Actor = { kind: "user", id: "carol", roles: ["approver"] };
const system: Actor = { kind: "service", id: "policy", roles: [] };
const orchestrator: Actor = { kind: "service", id: "orchestrator", roles: [] };
const T0 = new Date("2026-03-01T10:00:00.000Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const D1 = planRevisionDigest([]);
const meta = (actor: Actor) => ({ actor, correlation_id: "c1", occurred_at: T0.toISOString() });

const requested = () =>
  newEvent("plan.requested", "p1", { plan_id: "p1", intent: "scale checkout", source: "api" }, meta(alice));
const proposed = (revision = 1) =>
  newEvent(
    "plan.proposed",
    "p1",
    { plan_id: "p1", revision, summary: "scale", steps: [], planner: { kind: "template" } },
    meta(system),
  );
const decided = (decision: "allow" | "require_approval", stepDecision: "allow" | "deny" | null = null) =>
  newEvent(
    "policy.decided",
    "p1",
    {
      plan_id: "p1",
      revision: 1,
      decision,
      tier: "T1",
      reasons: [],
      approvers_required: decision === "allow" ? 0 : 1,
      constraints: {},
      ttl_seconds: 3600,
      expires_at: at(60).toISOString(),
      policy_revision: "rev-7",
      steps:
        stepDecision === null
          ? []
          : [
              {
                step_id: "s1",
                decision: stepDecision,
                tier: "T1",
                reasons: ["namespace kube-system is protected"],
                approvers_required: 0,
                constraints: {},
              },
            ],
    },
    meta(system),
  );
const answer = (type: "approval.granted" | "approval.denied", by: Actor) =>
  type === "approval.granted"
    ? newEvent(
        type,
        "p1",
        { plan_id: "p1", revision: 1, approval_id: "a1", approver: by.id, channel: "api", digest: D1 },
        meta(by),
      )
    : newEvent(
        type,
        "p1",
        { plan_id: "p1", revision: 1, approval_id: "a1", approver: by.id, channel: "api", digest: D1, reason: "no" },
        meta(by),
      );
const authorized = () =>
  newEvent(
    "plan.write_authorized",
    "p1",
    {
      plan_id: "p1",
      revision: 1,
      digest: D1,
      execution_id: "x1",
      step_id: "s1",
      tool_call_id: "x1-s1",
      action_id: "kubectl.scale",
    },
    meta(orchestrator),
  );

const authorize = (overrides: Partial<Extract<PlanCommand, { type: "AuthorizeWrite" }>> = {}): PlanCommand => ({
  type: "AuthorizeWrite",
  planId: "p1",
  revision: 1,
  digest: D1,
  executionId: "x1",
  stepId: "s1",
  toolCallId: "x1-s1",
  actionId: "kubectl.scale",
  actor: orchestrator,
  now: at(5),
  ...overrides,
});
const writeAuthorized: PlanEventDraft = {
  type: "plan.write_authorized",
  aggregateType: "plan",
  payload: {
    plan_id: "p1",
    revision: 1,
    digest: D1,
    execution_id: "x1",
    step_id: "s1",
    tool_call_id: "x1-s1",
    action_id: "kubectl.scale",
  },
};

const { given } = DeciderSpecification.for(planDecider);

describe("plan decider: AuthorizeWrite", () => {
  it("yields plan.write_authorized while the approval holds", () => {
    given([requested(), proposed(), decided("require_approval"), answer("approval.granted", bob)])
      .when(authorize())
      .then([writeAuthorized]);
  });

  it("yields it for a revision policy allowed without approval", () => {
    given([requested(), proposed(), decided("allow")])
      .when(authorize())
      .then([writeAuthorized]);
  });

  it("is refused once an approver denied the revision (an approval withdrawn)", () => {
    given([
      requested(),
      proposed(),
      decided("require_approval"),
      answer("approval.granted", bob),
      answer("approval.denied", carol),
    ])
      .when(authorize())
      .thenThrows(ForbiddenError, { message: "carol denied revision 1" });
  });

  it("is refused for a revision that is no longer the plan's", () => {
    given([requested(), proposed(), decided("allow"), proposed(2)])
      .when(authorize())
      .thenThrows(ConflictError);
  });

  it("is refused for another digest than the revision's", () => {
    given([requested(), proposed(), decided("allow")])
      .when(authorize({ digest: planRevisionDigest([{ step_id: "x" }] as never) }))
      .thenThrows(ConflictError, { field: "digest" });
  });

  it("is refused after the policy decision expired", () => {
    given([requested(), proposed(), decided("allow")])
      .when(authorize({ now: at(61) }))
      .thenThrows(ConflictError, { field: "revision" });
  });

  it("is refused for a step policy denied", () => {
    given([requested(), proposed(), decided("allow", "deny")])
      .when(authorize())
      .thenThrows(ForbiddenError, { field: "step_id" });
  });

  it("changes nothing in the plan's state: approvals, expiry and revision stay", () => {
    const history = [requested(), proposed(), decided("require_approval"), answer("approval.granted", bob)];
    const before: PlanState = history.reduce(evolve, planDecider.initialState);
    assert.deepEqual(evolve(before, authorized()), before);
    // A second write of the same execution is authorised on the state the first left.
    given([...history, authorized()])
      .when(authorize({ stepId: "s2", toolCallId: "x1-s2" }))
      .then([
        { ...writeAuthorized, payload: { ...writeAuthorized.payload, step_id: "s2", tool_call_id: "x1-s2" } },
      ] as PlanEventDraft[]);
  });
});

describe("plan decider: RequestExecution started by policy", () => {
  it("records started_by when policy starts the execution", () => {
    given([requested(), proposed(), decided("allow")])
      .when({
        type: "RequestExecution",
        planId: "p1",
        revision: 1,
        executionId: "p1-r1",
        startedBy: { kind: "policy", decision_revision: "rev-7" },
        actor: orchestrator,
        now: at(1),
      })
      .then([
        {
          type: "execution.requested",
          aggregateType: "execution",
          payload: {
            execution_id: "p1-r1",
            plan_id: "p1",
            revision: 1,
            dry_run: false,
            started_by: { kind: "policy", decision_revision: "rev-7" },
            workflow_type: "ScaleServiceWorkflow",
          },
        },
      ]);
  });

  it("is refused when the revision needs approval", () => {
    given([requested(), proposed(), decided("require_approval")])
      .when({
        type: "RequestExecution",
        planId: "p1",
        revision: 1,
        executionId: "p1-r1",
        startedBy: { kind: "policy", decision_revision: "rev-7" },
        actor: orchestrator,
        now: at(1),
      })
      .thenThrows(ForbiddenError);
  });
});

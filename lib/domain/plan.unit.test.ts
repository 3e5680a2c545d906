import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Actor, newEvent } from "../../events/index.ts";
import { ConflictError, ForbiddenError } from "../errors/index.ts";
import { planRevisionDigest } from "./digest.ts";
import { evolve, initialState, type PlanCommand, type PlanEventDraft, planDecider } from "./plan.ts";
import { DeciderSpecification } from "./testing.ts";

const alice: Actor = { kind: "user", id: "alice", roles: ["operator", "approver"] };
const bob: Actor = { kind: "user", id: "bob", roles: ["approver"] };
const carol: Actor = { kind: "user", id: "carol", roles: ["approver"] };
const viewer: Actor = { kind: "user", id: "vic", roles: ["viewer"] };
const system: Actor = { kind: "service", id: "policy", roles: [] };
const T0 = new Date("2026-03-01T10:00:00.000Z");
/** The digest of `proposed()`'s (empty) steps. */
const D1 = planRevisionDigest([]);
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

const requested = (by: Actor = alice) =>
  newEvent("plan.requested", "p1", { plan_id: "p1", intent: "scale checkout to 6", source: "api" }, ev(by));
const proposed = (revision = 1) =>
  newEvent(
    "plan.proposed",
    "p1",
    { plan_id: "p1", revision, summary: "scale", steps: [], planner: { kind: "template" } },
    ev(system),
  );
const decided = (
  decision: "allow" | "require_approval" | "deny",
  opts: { revision?: number; approvers?: number; selfApproval?: boolean; expiresAt?: Date } = {},
) =>
  newEvent(
    "policy.decided",
    "p1",
    {
      plan_id: "p1",
      revision: opts.revision ?? 1,
      decision,
      tier: "T2",
      reasons: ["production write"],
      approvers_required: opts.approvers ?? (decision === "require_approval" ? 1 : 0),
      constraints: opts.selfApproval ? { self_approval: true } : {},
      ttl_seconds: 3600,
      expires_at: (opts.expiresAt ?? at(60)).toISOString(),
      policy_revision: "r1",
      steps: [],
    },
    ev(system),
  );
const granted = (by: Actor, revision = 1, minute = 1) =>
  newEvent(
    "approval.granted",
    "p1",
    { plan_id: "p1", revision, approval_id: "a1", approver: by.id, channel: "api", digest: D1 },
    { ...ev(by), occurred_at: at(minute).toISOString() },
  );
const denied = (by: Actor) =>
  newEvent(
    "approval.denied",
    "p1",
    { plan_id: "p1", revision: 1, approval_id: "a1", approver: by.id, channel: "api", digest: D1, reason: "no" },
    ev(by),
  );

function ev(actor: Actor) {
  return { actor, correlation_id: "c1", occurred_at: T0.toISOString() };
}

const { given } = DeciderSpecification.for(planDecider);

/** The draft an accepted `execute()` yields. */
const executionRequested = (revision = 1): PlanEventDraft => ({
  type: "execution.requested",
  aggregateType: "execution",
  payload: { execution_id: "x1", plan_id: "p1", revision, dry_run: false, workflow_type: "ScaleServiceWorkflow" },
});

const execute = (revision = 1, now = at(5), actor: Actor = alice): PlanCommand => ({
  type: "RequestExecution",
  planId: "p1",
  revision,
  executionId: "x1",
  actor,
  now,
});
const grant = (actor: Actor, revision = 1, now = at(2)): PlanCommand => ({
  type: "GrantApproval",
  planId: "p1",
  revision,
  digest: D1,
  actor,
  channel: "api",
  approvalId: "a-new",
  now,
});

describe("plan decider", () => {
  it("RequestPlan on a new plan yields plan.requested", () => {
    given([])
      .when({ type: "RequestPlan", planId: "p1", intent: "scale", source: "api", actor: alice, now: T0 })
      .then([
        { type: "plan.requested", aggregateType: "plan", payload: { plan_id: "p1", intent: "scale", source: "api" } },
      ]);
  });

  it("RequestPlan on an existing plan is a conflict", () => {
    given([requested()])
      .when({ type: "RequestPlan", planId: "p1", intent: "scale", source: "api", actor: alice, now: T0 })
      .thenThrows(ConflictError, { field: "plan_id" });
  });

  it("RequestExecution of an allowed plan yields execution.requested", () => {
    given([requested(), proposed(), decided("allow")])
      .when(execute())
      .then([executionRequested()]);
  });

  it("RequestExecution carries the workflow type the plan's source and steps pick", () => {
    const fromAlert = newEvent(
      "plan.requested",
      "p1",
      { plan_id: "p1", intent: "checkout errors", source: "alert" },
      ev(system),
    );
    const requestedAs = (revision: number, type?: "IncidentRemediationWorkflow"): PlanEventDraft => ({
      type: "execution.requested",
      aggregateType: "execution",
      payload: {
        execution_id: "x1",
        plan_id: "p1",
        revision,
        dry_run: false,
        ...(type ? { workflow_type: type } : {}),
      },
    });
    given([fromAlert, proposed(), decided("allow")])
      .when(execute())
      .then([requestedAs(1, "IncidentRemediationWorkflow")]);
    // A decision on a revision this state never saw proposed names no type: the orchestrator reads the plan.
    given([requested(), proposed(1), decided("allow", { revision: 2 })])
      .when(execute(2))
      .then([requestedAs(2)]);
  });

  it("RequestExecution before a policy decision is a conflict", () => {
    given([requested(), proposed()]).when(execute()).thenThrows(ConflictError, { field: "plan_id" });
    given([]).when(execute()).thenThrows(ConflictError, { field: "plan_id" });
  });

  it("RequestExecution of a denied plan is forbidden", () => {
    given([requested(), proposed(), decided("deny")])
      .when(execute())
      .thenThrows(ForbiddenError);
  });

  it("RequestExecution for another revision is a conflict naming revision", () => {
    given([requested(), proposed(), decided("allow")])
      .when(execute(2))
      .thenThrows(ConflictError, { field: "revision" });
  });

  it("RequestExecution after the decision expired is a conflict", () => {
    given([requested(), proposed(), decided("allow")])
      .when(execute(1, at(61)))
      .thenThrows(ConflictError);
  });

  it("RequestExecution needing approval without it is forbidden", () => {
    given([requested(), proposed(), decided("require_approval")])
      .when(execute())
      .thenThrows(ForbiddenError);
  });

  it("RequestExecution with enough distinct approvals for the revision yields execution.requested", () => {
    given([requested(), proposed(), decided("require_approval", { approvers: 2 }), granted(bob), granted(carol)])
      .when(execute())
      .then([executionRequested()]);
  });

  it("an approver counted twice does not make two approvals", () => {
    given([requested(), proposed(), decided("require_approval", { approvers: 2 }), granted(bob), granted(bob)])
      .when(execute())
      .thenThrows(ForbiddenError, { field: "revision" });
  });

  it("approvals for an older revision do not count for a new one", () => {
    given([
      requested(),
      proposed(1),
      decided("require_approval", { revision: 1 }),
      granted(bob, 1),
      proposed(2),
      decided("require_approval", { revision: 2 }),
    ])
      .when(execute(2))
      .thenThrows(ForbiddenError);
  });

  it("expired approvals do not count", () => {
    given([requested(), proposed(), decided("require_approval"), granted(bob)])
      .when(execute(1, at(90)))
      .thenThrows(ForbiddenError);
    const expired = newEvent("approval.expired", "p1", { plan_id: "p1", revision: 1, approval_id: "a1" }, ev(system));
    given([requested(), proposed(), decided("require_approval"), granted(bob), expired])
      .when(execute())
      .thenThrows(ForbiddenError);
  });

  it("a denial blocks execution", () => {
    given([requested(), proposed(), decided("require_approval", { approvers: 1 }), granted(bob), denied(carol)])
      .when(execute())
      .thenThrows(ForbiddenError);
  });

  it("GrantApproval yields approval.granted bound to the revision", () => {
    given([requested(), proposed(), decided("require_approval")])
      .when({ ...grant(bob), comment: "lgtm" } as PlanCommand)
      .then([
        {
          type: "approval.granted",
          aggregateType: "plan",
          payload: {
            plan_id: "p1",
            revision: 1,
            approval_id: "a-new",
            approver: "bob",
            channel: "api",
            digest: D1,
            comment: "lgtm",
          },
        },
      ]);
  });

  it("GrantApproval uses the approval id from approval.requested", () => {
    const req = newEvent(
      "approval.requested",
      "p1",
      {
        plan_id: "p1",
        revision: 1,
        approval_id: "apr-7",
        approvers_required: 1,
        expires_at: at(30).toISOString(),
        channels: ["api"],
      },
      ev(system),
    );
    given([requested(), proposed(), decided("require_approval"), req])
      .when(grant(bob))
      .then([
        {
          type: "approval.granted",
          aggregateType: "plan",
          payload: { plan_id: "p1", revision: 1, approval_id: "apr-7", approver: "bob", channel: "api", digest: D1 },
        },
      ]);
    given([requested(), proposed(), decided("require_approval"), req])
      .when(grant(bob, 1, at(31)))
      .thenThrows(ConflictError);
  });

  it("approving your own plan is forbidden unless policy allows self approval", () => {
    given([requested(alice), proposed(), decided("require_approval")])
      .when(grant(alice))
      .thenThrows(ForbiddenError);
    given([requested(alice), proposed(), decided("require_approval", { selfApproval: true })])
      .when(grant(alice))
      .then([
        {
          type: "approval.granted",
          aggregateType: "plan",
          payload: { plan_id: "p1", revision: 1, approval_id: "a-new", approver: "alice", channel: "api", digest: D1 },
        },
      ]);
  });

  it("an actor without the approver role cannot approve", () => {
    given([requested(), proposed(), decided("require_approval")])
      .when(grant(viewer))
      .thenThrows(ForbiddenError);
  });

  it("approving the wrong revision, a denied plan, or twice is refused", () => {
    given([requested(), proposed(), decided("require_approval")])
      .when(grant(bob, 2))
      .thenThrows(ConflictError);
    given([requested(), proposed(), decided("deny")])
      .when(grant(bob))
      .thenThrows(ConflictError);
    given([requested(), proposed(), decided("require_approval"), granted(bob)])
      .when(grant(bob))
      .thenThrows(ConflictError, { field: "revision" });
  });

  it("DenyApproval yields approval.denied with the reason", () => {
    given([requested(), proposed(), decided("require_approval")])
      .when({
        type: "DenyApproval",
        planId: "p1",
        revision: 1,
        digest: D1,
        actor: bob,
        channel: "api",
        reason: "too risky",
        approvalId: "a2",
        now: at(1),
      })
      .then([
        {
          type: "approval.denied",
          aggregateType: "plan",
          payload: {
            plan_id: "p1",
            revision: 1,
            approval_id: "a2",
            approver: "bob",
            channel: "api",
            digest: D1,
            reason: "too risky",
          },
        },
      ]);
  });

  it("evolve keeps the requester and moves to failed on plan.failed", () => {
    const failed = newEvent("plan.failed", "p1", { plan_id: "p1", reasons: ["no template"] }, ev(system));
    const state = [requested(), failed].reduce(evolve, initialState);
    assert.equal(state.status, "failed");
    if (state.status === "failed") assert.equal(state.requestedBy.id, "alice");
    given([requested(), failed]).when(execute()).thenThrows(ConflictError);
  });
});

/**
 * The plan decider's approval rules, given / when / then: digest binding,
 * channels, quorum by group, self-approval, break-glass, expiry.
 */
import { describe, it } from "node:test";
import { type Actor, type ApprovalRequirement, newEvent, type PlanStep } from "../../events/index.ts";
import { ConflictError, ForbiddenError, ValidationError } from "../errors/index.ts";
import { planRevisionDigest } from "./digest.ts";
import { type PlanCommand, planDecider } from "./plan.ts";
import { DeciderSpecification } from "./testing.ts";

const alice: Actor = { kind: "user", id: "alice", roles: ["operator", "approver"], groups: ["sre"] };
const sam: Actor = { kind: "user", id: "sam", roles: ["approver"], groups: ["sre"] };
const sid: Actor = { kind: "user", id: "sid", roles: ["approver"], groups: ["sre"] };
const sue: Actor = { kind: "user", id: "sue", roles: ["approver"], groups: ["security"] };
const both: Actor = { kind: "user", id: "bo", roles: ["approver"], groups: ["security", "sre"] };
const glass: Actor = { kind: "user", id: "gil", roles: ["approver"], groups: ["break-glass"] };
const system: Actor = { kind: "service", id: "policy", roles: [] };
const T0 = new Date("2026-03-10T10:00:00.000Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const meta = (actor: Actor, minute = 0) => ({ actor, correlation_id: "c1", occurred_at: at(minute).toISOString() });

const step = (replicas: number): PlanStep => ({
  step_id: "s1",
  action_id: "kubectl.rollout_undo",
  input: { kind: "deployment", name: "checkout", namespace: "shop", to_revision: replicas },
  target: { environment: "production", service: "checkout" },
  rationale: "undo the bad rollout",
});
const D1 = planRevisionDigest([step(1)]);
const D2 = planRevisionDigest([step(2)]);

const T3: ApprovalRequirement = {
  approvers: 2,
  groups: [
    { group: "sre", count: 1 },
    { group: "security", count: 1 },
  ],
  self_approval: false,
  channels: ["api", "cli", "console", "linear"],
  ttl_seconds: 1800,
  break_glass: { allowed: true, groups: ["break-glass"] },
};

const requested = () =>
  newEvent("plan.requested", "p1", { plan_id: "p1", intent: "undo checkout", source: "api" }, meta(alice));
const proposed = (revision = 1, steps = [step(revision)], digest?: string) =>
  newEvent(
    "plan.proposed",
    "p1",
    { plan_id: "p1", revision, summary: "undo", steps, planner: { kind: "template" }, ...(digest ? { digest } : {}) },
    meta(system),
  );
const decided = (revision = 1, approval: ApprovalRequirement = T3) =>
  newEvent(
    "policy.decided",
    "p1",
    {
      plan_id: "p1",
      revision,
      decision: "require_approval",
      tier: "T3",
      reasons: ["production rollout_undo: T3"],
      approvers_required: approval.approvers,
      constraints: {},
      ttl_seconds: 3600,
      expires_at: at(60).toISOString(),
      policy_revision: "r1",
      steps: [],
      approval,
    },
    meta(system),
  );
const granted = (by: Actor, digest = D1, extra: { break_glass?: boolean; reason?: string } = {}, revision = 1) =>
  newEvent(
    "approval.granted",
    "p1",
    { plan_id: "p1", revision, approval_id: "a1", approver: by.id, channel: "api", digest, ...extra },
    meta(by, 2),
  );
const expired = () =>
  newEvent("approval.expired", "p1", { plan_id: "p1", revision: 1, approval_id: "a1", digest: D1 }, meta(system, 31));

const grant = (actor: Actor, over: Partial<Extract<PlanCommand, { type: "GrantApproval" }>> = {}): PlanCommand => ({
  type: "GrantApproval",
  planId: "p1",
  revision: 1,
  digest: D1,
  actor,
  channel: "cli",
  approvalId: "a1",
  now: at(5),
  ...over,
});
const execute = (over: Partial<Extract<PlanCommand, { type: "RequestExecution" }>> = {}): PlanCommand => ({
  type: "RequestExecution",
  planId: "p1",
  revision: 1,
  executionId: "x1",
  actor: alice,
  now: at(10),
  ...over,
});
const executionRequested = [
  {
    type: "execution.requested",
    aggregateType: "execution",
    payload: { execution_id: "x1", plan_id: "p1", revision: 1, dry_run: false, workflow_type: "ScaleServiceWorkflow" },
  },
] as const;

const { given } = DeciderSpecification.for(planDecider);
const history = () => [requested(), proposed(), decided()];

describe("approvals: digest binding", () => {
  it("given a decided revision, when a grant names another digest, then it is refused naming the current one", () => {
    given(history())
      .when(grant(sam, { digest: D2 }))
      .thenThrows(ConflictError, { field: "digest", extra: { current_digest: D1, current_revision: 1 } });
  });

  it("given a grant for digest D1, when revision 2 (D2) is proposed and decided, then executing revision 2 is refused", () => {
    given([...history(), granted(sam), granted(sue), proposed(2), decided(2)])
      .when(execute({ revision: 2 }))
      .thenThrows(ForbiddenError, { field: "revision" });
  });

  it("given the same revision proposed again with other steps, when executed, then the earlier grants do not count", () => {
    given([...history(), granted(sam), granted(sue), proposed(1, [step(2)]), decided(1)])
      .when(execute())
      .thenThrows(ForbiddenError, { field: "revision" });
  });

  it("given approvals for D1, when the executor runs another digest, then execution is refused (409 digest)", () => {
    given([...history(), granted(sam), granted(sue)])
      .when(execute({ digest: D2 }))
      .thenThrows(ConflictError, { field: "digest" });
    given([...history(), granted(sam), granted(sue)])
      .when(execute({ digest: D1 }))
      .then(executionRequested);
  });

  it("given a proposal whose recorded digest is not its steps', when anyone approves, then it is refused", () => {
    given([requested(), proposed(1, [step(1)], D2), decided()])
      .when(grant(sam))
      .thenThrows(ConflictError, { field: "digest" });
  });

  it("given a grant recorded before digests (v1, digest null), when executing, then it does not count", () => {
    given([...history(), granted(sam, null as unknown as string), granted(sue)])
      .when(execute())
      .thenThrows(ForbiddenError, { field: "revision" });
  });
});

describe("approvals: quorum from policy", () => {
  it("given a T3 plan needing one from sre and one from security, when two from sre approve, then it cannot run", () => {
    given([...history(), granted(sam), granted(sid)])
      .when(execute())
      .thenThrows(ForbiddenError, {
        extra: {
          approvals: 2,
          approvers_required: 2,
          missing_approvers: 1,
          missing_groups: [{ group: "security", count: 1 }],
          digest: D1,
        },
      });
  });

  it("given one from sre and one from security, when executed, then it runs", () => {
    given([...history(), granted(sam), granted(sue)])
      .when(execute())
      .then(executionRequested);
  });

  it("given one person in both groups, when alone, then one slot stays open; with one from sre it runs", () => {
    given([...history(), granted(both)])
      .when(execute())
      .thenThrows(ForbiddenError);
    given([...history(), granted(both), granted(sam)])
      .when(execute())
      .then(executionRequested);
  });

  it("the requester cannot approve, in any channel, unless policy allows self-approval", () => {
    for (const channel of ["api", "cli", "console", "linear"] as const) {
      given(history())
        .when(grant(alice, { channel }))
        .thenThrows(ForbiddenError, { field: "plan_id", extra: { reason: "self_approval" } });
    }
    given([requested(), proposed(), decided(1, { ...T3, self_approval: true })])
      .when(grant(alice))
      .then([
        {
          type: "approval.granted",
          aggregateType: "plan",
          payload: { plan_id: "p1", revision: 1, approval_id: "a1", approver: "alice", channel: "cli", digest: D1 },
        },
      ]);
  });

  it("a channel policy does not allow for the tier is refused (T3 not from Slack)", () => {
    given(history())
      .when(grant(sue, { channel: "slack" }))
      .thenThrows(ForbiddenError, { field: "channel", extra: { tier: "T3", channels: T3.channels } });
  });
});

describe("approvals: break-glass", () => {
  const breakGlass = (reason: string) => grant(glass, { breakGlass: { reason } });

  it("a break-glass member approving alone with a reason meets the quorum, and the grant is marked", () => {
    given(history())
      .when(breakGlass("  checkout is down  "))
      .then([
        {
          type: "approval.granted",
          aggregateType: "plan",
          payload: {
            plan_id: "p1",
            revision: 1,
            approval_id: "a1",
            approver: "gil",
            channel: "cli",
            digest: D1,
            break_glass: true,
            reason: "checkout is down",
          },
        },
      ]);
    given([...history(), granted(glass, D1, { break_glass: true, reason: "checkout is down" })])
      .when(execute())
      .then(executionRequested);
  });

  it("without a reason, outside policy, or outside a break-glass group it is refused", () => {
    given(history()).when(breakGlass(" ")).thenThrows(ValidationError, { field: "reason" });
    given([requested(), proposed(), decided(1, { ...T3, break_glass: { allowed: false, groups: ["break-glass"] } })])
      .when(breakGlass("down"))
      .thenThrows(ForbiddenError, { field: "break_glass" });
    given(history())
      .when(grant(sam, { breakGlass: { reason: "down" } }))
      .thenThrows(ForbiddenError, { field: "break_glass" });
  });

  it("a break-glass member's ordinary grant counts as one person only", () => {
    given([...history(), granted(glass)])
      .when(execute())
      .thenThrows(ForbiddenError);
  });
});

describe("approvals: request and expiry", () => {
  const expire = (minute: number): PlanCommand => ({
    type: "ExpireApproval",
    planId: "p1",
    revision: 1,
    actor: system,
    now: at(minute),
  });

  it("RequestApproval opens the request once, expiring at the approval TTL within the decision", () => {
    const request: PlanCommand = {
      type: "RequestApproval",
      planId: "p1",
      revision: 1,
      approvalId: "a1",
      actor: system,
      now: at(0),
    };
    given(history())
      .when(request)
      .then([
        {
          type: "approval.requested",
          aggregateType: "plan",
          payload: {
            plan_id: "p1",
            revision: 1,
            approval_id: "a1",
            approvers_required: 2,
            expires_at: at(30).toISOString(),
            channels: T3.channels,
            links: {},
            digest: D1,
          },
        },
      ]);
    const opened = newEvent(
      "approval.requested",
      "p1",
      {
        plan_id: "p1",
        revision: 1,
        approval_id: "a1",
        approvers_required: 2,
        expires_at: at(90).toISOString(),
        channels: ["api"],
        digest: D1,
      },
      meta(system),
    );
    given([...history(), opened])
      .when(request)
      .thenNothing();
    // A request cannot stretch the window past the decision: grants close at the TTL (30 min).
    given([...history(), opened])
      .when(grant(sam, { now: at(31) }))
      .thenThrows(ConflictError, { field: "revision" });
  });

  it("ExpireApproval: refused before the deadline, once after it, nothing when answered or already expired", () => {
    given(history()).when(expire(29)).thenThrows(ConflictError);
    given(history())
      .when(expire(30))
      .then([
        {
          type: "approval.expired",
          aggregateType: "plan",
          payload: { plan_id: "p1", revision: 1, approval_id: "p1-r1", digest: D1 },
        },
      ]);
    given([...history(), expired()])
      .when(expire(40))
      .thenNothing();
    given([...history(), granted(sam), granted(sue)])
      .when(expire(40))
      .thenNothing();
    given([...history(), proposed(2), decided(2)])
      .when(expire(40))
      .thenNothing();
  });

  it("after approval.expired a grant is refused and earlier grants do not count", () => {
    given([...history(), expired()])
      .when(grant(sam, { now: at(5) }))
      .thenThrows(ConflictError, { field: "revision" });
    given([...history(), granted(sam), expired()])
      .when(execute())
      .thenThrows(ForbiddenError, { field: "revision" });
  });
});

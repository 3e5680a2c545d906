import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newEvent } from "../../events/index.ts";
import { recorded, recordedChange } from "../../test/support/events.ts";
import { evolvePlanView, foldPlanView, type PlanView } from "./fold.ts";

const planEvents = (n: number) => recordedChange(n).filter((e) => e.aggregate_type === "plan");
const bob = { kind: "user" as const, id: "bob", roles: ["approver" as const] };

describe("plans fold", () => {
  it("given no plan, when a change is requested, proposed, decided and approved, then the plan is approved", () => {
    // given
    const events = planEvents(1);
    // when
    const view = foldPlanView(null, events);
    // then
    assert.equal(view?.plan.status, "approved");
    assert.equal(view?.plan.revision, 1);
    assert.equal(view?.plan.approvals_granted, 1);
    assert.equal(view?.plan.created_at, events[0]?.occurred_at);
    assert.equal(view?.plan.last_seq, events.at(-1)?.seq);
    assert.deepEqual(
      Object.values(view?.steps ?? {}).map((s) => [s.step_id, s.decision]),
      [
        ["s1", "require_approval"],
        ["s2", "allow"],
      ],
    );
    assert.equal(view?.approvals["u-plan-1-a1"]?.status, "granted");
  });

  it("given events in any split, when folded batch by batch or one by one, then the views are equal", () => {
    const events = planEvents(2);
    const oneByOne = events.reduce<PlanView | null>(evolvePlanView, null);
    const split = foldPlanView(foldPlanView(null, events.slice(0, 3)), events.slice(3));
    assert.deepEqual(split, oneByOne);
    assert.deepEqual(foldPlanView(null, events), oneByOne);
  });

  it("given a view, when folded further, then the given view is left exactly as it was (pure)", () => {
    const events = planEvents(3);
    const before = foldPlanView(null, events.slice(0, 2));
    const frozen = structuredClone(before);
    const after = foldPlanView(before, events.slice(2));
    assert.deepEqual(before, frozen);
    assert.notEqual(after, before);
    assert.notEqual(after?.approvals, before?.approvals, "maps are copied on write, not shared mutably");
  });

  it("given a fold, when a row did not change, then it keeps its identity (writers save only changed rows)", () => {
    const events = planEvents(4);
    const decided = foldPlanView(null, events.slice(0, 3));
    const granted = foldPlanView(decided, events.slice(4));
    assert.equal(granted?.steps["1:s1"], decided?.steps["1:s1"]);
    assert.notEqual(granted?.approvals["u-plan-4-a1"], decided?.approvals["u-plan-4-a1"]);
  });

  it("given a plan awaiting approval, when the same approver grants twice, then it counts once", () => {
    const events = planEvents(5);
    const granted = events.find((e) => e.type === "approval.granted");
    assert.ok(granted);
    const view = foldPlanView(null, [...events, { ...granted, seq: 99 }]);
    assert.equal(view?.plan.approvals_granted, 1);
    assert.equal(view?.approvals["u-plan-5-a1"]?.approvers.length, 1);
  });

  it("given a pending plan, when its approval is denied, then the plan is denied", () => {
    const events = planEvents(6).filter((e) => e.type !== "approval.granted");
    const [denied] = recorded(
      [
        newEvent(
          "approval.denied",
          "u-plan-6",
          {
            plan_id: "u-plan-6",
            revision: 1,
            approval_id: "u-plan-6-a1",
            approver: "bob",
            channel: "api",
            digest: null,
            reason: "not now",
          },
          { actor: bob, correlation_id: "c" },
        ),
      ],
      50,
    );
    const view = foldPlanView(null, [...events, denied as (typeof events)[number]]);
    assert.equal(view?.plan.status, "denied");
    assert.equal(view?.approvals["u-plan-6-a1"]?.reason, "not now");
  });

  it("given events of other read models, when folded, then nothing changes", () => {
    const others = recordedChange(7).filter((e) => e.aggregate_type !== "plan");
    assert.equal(foldPlanView(null, others), null);
    const view = foldPlanView(null, planEvents(7));
    assert.equal(foldPlanView(view, others), view);
    assert.equal(evolvePlanView(view, others[0] as (typeof others)[number]), view);
  });
});

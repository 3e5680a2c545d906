import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ApprovalRequirement } from "../../events/index.ts";
import { combineApprovals } from "./combine.ts";

const all = ["api", "cli", "console", "slack", "linear"] as const;
const t2: ApprovalRequirement = {
  approvers: 1,
  groups: [],
  self_approval: true,
  channels: [...all],
  ttl_seconds: 1800,
  break_glass: { allowed: true, groups: ["break-glass"] },
};
const t3: ApprovalRequirement = {
  approvers: 2,
  groups: [
    { group: "sre", count: 1 },
    { group: "security", count: 1 },
  ],
  self_approval: false,
  channels: ["api", "cli", "console", "linear"],
  ttl_seconds: 900,
  break_glass: { allowed: false, groups: ["break-glass"] },
};
const none: ApprovalRequirement = { ...t2, approvers: 0, channels: [], ttl_seconds: 0 };

describe("combineApprovals", () => {
  test("the strictest of the steps that need approval: most people, every group, common channels, shortest TTL", () => {
    assert.deepEqual(combineApprovals([{ approval: t2 }, { approval: t3 }, { approval: none }]), {
      approvers: 2,
      groups: [
        { group: "sre", count: 1 },
        { group: "security", count: 1 },
      ],
      self_approval: false,
      channels: ["api", "cli", "console", "linear"],
      ttl_seconds: 900,
      break_glass: { allowed: false, groups: ["break-glass"] },
    });
  });

  test("a group named by two steps needs the larger count; break-glass only from groups every step names", () => {
    const twoSre = {
      ...t2,
      groups: [{ group: "sre", count: 2 }],
      break_glass: { allowed: true, groups: ["bg", "oncall"] },
    };
    const oneSre = { ...t2, groups: [{ group: "sre", count: 1 }], break_glass: { allowed: true, groups: ["oncall"] } };
    const combined = combineApprovals([{ approval: oneSre }, { approval: twoSre }]);
    assert.deepEqual(combined.groups, [{ group: "sre", count: 2 }]);
    assert.deepEqual(combined.break_glass, { allowed: true, groups: ["oncall"] });
    assert.equal(combined.self_approval, true);
  });

  test("no step needs approval: nobody may approve", () => {
    assert.deepEqual(combineApprovals([{ approval: none }]), {
      approvers: 0,
      groups: [],
      self_approval: false,
      channels: [],
      ttl_seconds: 0,
      break_glass: { allowed: false, groups: [] },
    });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PlanStep } from "../../events/index.ts";
import { planRevisionDigest } from "./digest.ts";

const step: PlanStep = {
  step_id: "s1",
  action_id: "kubectl.scale",
  input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 4 },
  target: { environment: "staging", service: "checkout" },
  rationale: "more capacity",
  rollback: {
    action_id: "kubectl.scale",
    input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 2 },
  },
};

describe("planRevisionDigest", () => {
  it("given the same steps with keys in another order, when digested, then the digest is the same", () => {
    const reordered = JSON.parse(
      '{"target":{"service":"checkout","environment":"staging"},"step_id":"s1","rationale":"more capacity","rollback":{"input":{"replicas":2,"namespace":"shop","name":"checkout","kind":"deployment"},"action_id":"kubectl.scale"},"input":{"replicas":4,"namespace":"shop","name":"checkout","kind":"deployment"},"action_id":"kubectl.scale"}',
    ) as PlanStep;
    assert.match(planRevisionDigest([step]), /^[0-9a-f]{64}$/);
    assert.equal(planRevisionDigest([reordered]), planRevisionDigest([step]));
  });

  it("given any change to a step (input, rollback, order), when digested, then the digest differs", () => {
    const base = planRevisionDigest([step, { ...step, step_id: "s2" }]);
    const changed = [
      [
        { ...step, input: { ...step.input, replicas: 0 } },
        { ...step, step_id: "s2" },
      ],
      [step, { ...step, step_id: "s2", rollback: null }],
      [{ ...step, step_id: "s2" }, step],
    ];
    for (const steps of changed) assert.notEqual(planRevisionDigest(steps), base);
  });
});

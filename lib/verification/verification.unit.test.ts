/**
 * The analysis engine: conditions parsed (and refused with a fix), values
 * selected from a read's output, measurements judged, running verdicts, and
 * a plan step's verification turned into checks. The rule the issue asks to
 * be shown: a query that returns nothing is never a pass.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StepVerification } from "../../events/plan.ts";
import {
  type Check,
  checksOf,
  evaluate,
  judge,
  type Outcome,
  parseCondition,
  parseSelector,
  selectValue,
  verdict,
  verdictAtDeadline,
  verificationProblems,
} from "./index.ts";

function condition(text: string) {
  const parsed = parseCondition(text);
  assert.ok(parsed.ok, `${text}: ${parsed.ok ? "" : parsed.message}`);
  return parsed.condition;
}

function check(analysis: Partial<NonNullable<StepVerification["analysis"]>>, extra: Partial<StepVerification> = {}) {
  const checks = checksOf(
    {
      description: "error ratio stays low",
      ...extra,
      analysis: { provider: "prometheus", query: "sum(up)", success_condition: "result < 0.05", ...analysis },
    },
    60_000,
  );
  return checks[checks.length - 1] as Check;
}

/** Runs the verdict over measurements as the workflow does: stop at the first settled verdict. */
function run(c: Check, outcomes: Outcome[]) {
  const seen: Outcome[] = [];
  for (const o of outcomes) {
    seen.push(o);
    const v = verdict(c, seen);
    if (v.state !== "measuring") return { ...v, measured: seen.length };
  }
  return { state: "measuring" as const, reason: "", measured: seen.length };
}

describe("conditions", () => {
  it("compares result with numbers, strings, booleans and the step's input", () => {
    const input = { replicas: 3, nested: { tier: "gold" } };
    const holds = (text: string, result: number | string | boolean) => {
      const e = evaluate(condition(text), result, input);
      assert.ok(e.ok, text);
      return e.holds;
    };
    assert.equal(holds("result < 0.05", 0.01), true);
    assert.equal(holds("result < 0.05", 0.05), false);
    assert.equal(holds("result <= 0.05", 0.05), true);
    assert.equal(holds("0.05 > result", 0.01), true);
    assert.equal(holds("result == input.replicas", 3), true);
    assert.equal(holds("result != input.replicas", 3), false);
    assert.equal(holds('result == "Healthy"', "Healthy"), true);
    assert.equal(holds("result == input.nested.tier", "gold"), true);
    assert.equal(holds("result == true", true), true);
    assert.equal(holds("result >= 1 && result <= 3", 2), true);
    assert.equal(holds("result >= 1 && result <= 3", 4), false);
    assert.equal(holds("result < 1 || result > 3", 4), true);
    assert.equal(holds("(result < 1 || result > 3) && result != 10", 10), false);
    assert.equal(holds("result > -1e3", -5), true);
  });

  it("answers a comparison it cannot make as not evaluable, not as false", () => {
    const e = evaluate(condition("result < 0.05"), "Healthy", {});
    assert.deepEqual(e.ok, false);
    const missing = evaluate(condition("result == input.replicas"), 3, {});
    assert.ok(!missing.ok && /input\.replicas/.test(missing.reason));
  });

  it("refuses what it cannot read, naming the problem and a fix", () => {
    for (const [text, problem] of [
      ["", /empty/],
      ["result <", /expected a value at the end/],
      ["result < 0.05 &&", /expected a value/],
      ["result = 1", /unexpected "="/],
      ["process.exit(1)", /unknown name "process.exit"/],
      ["result < 1; rm -rf /", /unexpected ";"/],
      ["1 < 2", /never looks at result/],
      ["result < 1 && 1 < 2", /compares two constants/],
      ['result < "high"', /only numbers are ordered/],
      ["(result < 1", /expected "\)"/],
      ["result < 1 result > 2", /unexpected "result"/],
      ["x".repeat(201), /more than 200/],
    ] as const) {
      const parsed = parseCondition(text);
      assert.ok(!parsed.ok, `${text} was accepted`);
      assert.match(parsed.message, problem);
      assert.match(parsed.fix, /result/);
    }
  });
});

describe("selecting a value from a read", () => {
  const deployment = JSON.stringify({
    spec: { replicas: 3 },
    status: { readyReplicas: 2, conditions: [{ type: "Available", status: "True" }] },
  });

  it("reads fields and list items, with a default for an absent field", () => {
    const at = (path: string) => {
      const s = parseSelector(path);
      assert.ok(s.ok, path);
      return selectValue(deployment, s.selector).value;
    };
    assert.equal(at(".spec.replicas"), 3);
    assert.equal(at(".status.readyReplicas"), 2);
    assert.equal(at(".status.conditions[0].status"), "True");
    assert.equal(at(".status.updatedReplicas ?? 0"), 0);
    assert.equal(at(".status.updatedReplicas"), null);
    assert.equal(at(".status"), null);
    assert.equal(at(""), 1);
  });

  it("has no value for output that is not JSON, and refuses paths it cannot read", () => {
    const s = parseSelector(".spec.replicas");
    assert.ok(s.ok);
    assert.equal(selectValue("deployment.apps/web scaled", s.selector).value, null);
    for (const bad of ["spec.replicas", ".spec..replicas", ".spec.replicas ?? zero", ".a ?? 1 ?? 2", ".items[x]"]) {
      assert.equal(parseSelector(bad).ok, false, bad);
    }
  });
});

describe("judging a measurement", () => {
  it("is inconclusive without a value, with NaN or an infinite value, never a pass", () => {
    const c = check({ success_condition: "result < 0.05" });
    assert.equal(judge(c, { value: null, detail: "the query returned no series" }, {}).outcome, "inconclusive");
    assert.equal(judge(c, { value: Number.NaN, detail: "NaN" }, {}).outcome, "inconclusive");
    assert.equal(judge(c, { value: Number.POSITIVE_INFINITY, detail: "+Inf" }, {}).outcome, "inconclusive");
    // Even a condition that any number would satisfy does not pass on nothing.
    const lax = check({ success_condition: "result >= 0 || result < 0" });
    assert.equal(judge(lax, { value: null, detail: "empty" }, {}).outcome, "inconclusive");
  });

  it("fails on the failure condition, passes on the success condition, as Argo Rollouts does in between", () => {
    const onlySuccess = check({ success_condition: "result < 0.05" });
    assert.equal(judge(onlySuccess, { value: 0.01, detail: "" }, {}).outcome, "pass");
    assert.equal(judge(onlySuccess, { value: 0.2, detail: "" }, {}).outcome, "fail");
    const both = check({ success_condition: "result < 0.05", failure_condition: "result >= 0.1" });
    assert.equal(judge(both, { value: 0.2, detail: "" }, {}).outcome, "fail");
    assert.equal(judge(both, { value: 0.07, detail: "" }, {}).outcome, "inconclusive");
    assert.equal(judge(both, { value: 0.01, detail: "" }, {}).outcome, "pass");
    const typeMismatch = judge(onlySuccess, { value: "Healthy", detail: "" }, {});
    assert.equal(typeMismatch.outcome, "inconclusive");
  });

  it("compares the live read with what the step set (expected effect)", () => {
    const c = checksOf(
      {
        description: "web runs 3 replicas",
        action_id: "kubectl.get",
        input: { kind: "deployment", name: "web", namespace: "shop" },
        analysis: {
          provider: "kubectl",
          query: ".status.readyReplicas ?? 0",
          success_condition: "result == input.replicas",
        },
      },
      60_000,
    );
    assert.equal(c.length, 1, "the kubectl analysis measures the read; no separate read check");
    const only = c[0] as Check;
    assert.equal(judge(only, { value: 3, detail: "" }, { replicas: 3 }).outcome, "pass");
    assert.equal(judge(only, { value: 2, detail: "" }, { replicas: 3 }).outcome, "fail");
  });
});

describe("the running verdict", () => {
  it("never passes when every measurement comes back empty, whatever the limits", () => {
    for (let count = 1; count <= 6; count++) {
      for (let inconclusive = 0; inconclusive <= count + 1; inconclusive++) {
        const c = check({ count, inconclusive_limit: inconclusive, failure_limit: 0 });
        const outcomes = Array.from(
          { length: count },
          () => judge(c, { value: null, detail: "the query returned no series" }, {}).outcome,
        );
        const v = run(c, outcomes);
        assert.equal(v.state, "inconclusive", `count ${count}, inconclusive_limit ${inconclusive}`);
      }
    }
  });

  it("fails as soon as failures pass the limit, without measuring the rest", () => {
    const c = check({ count: 5, failure_limit: 1 });
    const v = run(c, ["pass", "fail", "fail", "pass", "pass"]);
    assert.equal(v.state, "fail");
    assert.equal(v.measured, 3);
  });

  it("goes inconclusive past its limit, and passes a tolerated blip", () => {
    const c = check({ count: 4, inconclusive_limit: 1 });
    assert.equal(run(c, ["inconclusive", "inconclusive"]).state, "inconclusive");
    assert.equal(run(c, ["pass", "inconclusive", "pass", "pass"]).state, "pass");
  });

  it("keeps measuring while a later measurement could still fail it, and stops once none could", () => {
    const c = check({ count: 3 });
    assert.deepEqual(verdict(c, ["pass"]), { state: "measuring" });
    assert.deepEqual(verdict(c, ["pass", "pass"]), { state: "measuring" });
    assert.equal(verdict(c, ["pass", "pass", "pass"]).state, "pass");
    const tolerant = check({ count: 3, failure_limit: 2, inconclusive_limit: 2 });
    assert.equal(verdict(tolerant, ["pass"]).state, "pass");
  });
});

describe("a step's verification as checks", () => {
  it("keeps plans made before analyses: a read measured until it succeeds, within the timeout", () => {
    const [read] = checksOf(
      { description: "rollout completes", action_id: "kubectl.rollout_status", input: { kind: "deployment" } },
      60_000,
    );
    assert.ok(read);
    assert.equal(read.provider, "kubectl");
    assert.equal(read.count, 13);
    assert.equal(read.read?.action_id, "kubectl.rollout_status");
    assert.equal(run(read, ["fail", "fail", "pass"]).state, "pass");
    assert.equal(
      run(
        read,
        Array.from({ length: 13 }, () => "fail" as const),
      ).state,
      "fail",
    );
    // A read slower than its interval has its verdict when the timeout is up, on what it measured.
    assert.equal(read.deadline_ms, 60_000);
    assert.equal(verdictAtDeadline(read, ["fail", "fail"]).state, "fail");
    assert.equal(verdictAtDeadline(read, ["fail", "pass"]).state, "pass");
    assert.equal(verdictAtDeadline(read, ["inconclusive"]).state, "inconclusive");
    assert.match(verdictAtDeadline(read, ["fail"]).reason, /time was up/);
    // A short timeout is measured more often, the last time when it is up.
    const [quick] = checksOf({ description: "reads", action_id: "kubectl.get", input: {} }, 4000);
    assert.deepEqual([quick?.interval_ms, quick?.count], [1000, 5]);
  });

  it("runs a read and then a metric analysis, and leaves a description alone unmeasured", () => {
    const checks = checksOf(
      {
        description: "app healthy, errors low",
        action_id: "argocd.app_wait",
        input: { app: "shop" },
        analysis: { provider: "prometheus", query: "sum(x)", success_condition: "result < 0.05" },
      },
      60_000,
    );
    assert.deepEqual(
      checks.map((c) => c.provider),
      ["kubectl", "prometheus"],
    );
    assert.deepEqual(checksOf({ description: "the PR exists" }, 60_000), []);
  });

  it("turns a promql with no condition (old plans) into a check that can only be inconclusive", () => {
    const [promql] = checksOf({ description: "errors low", promql: "sum(rate(errors[1m]))" }, 60_000);
    assert.ok(promql?.broken);
    assert.equal(judge(promql, { value: 0, detail: "" }, {}).outcome, "inconclusive");
  });

  it("names every problem of a verification with its field and fix", () => {
    const problems = verificationProblems(
      {
        description: "x",
        promql: "up",
        analysis: {
          provider: "kubectl",
          query: "status.replicas",
          success_condition: "result == input.size",
          failure_condition: "result <",
          count: 2,
          failure_limit: 2,
        },
      },
      { replicas: 3 },
    );
    const fields = problems.map((p) => p.field).sort();
    assert.deepEqual(fields, [
      "verification.action_id",
      "verification.analysis.failure_condition",
      "verification.analysis.failure_limit",
      "verification.analysis.query",
      "verification.analysis.success_condition",
    ]);
    for (const p of problems) assert.ok(p.fix.length > 10, p.field);
    assert.deepEqual(
      verificationProblems({ description: "x", promql: "up" }, {}).map((p) => p.field),
      ["verification.promql"],
    );
    assert.deepEqual(
      verificationProblems(
        { description: "x", analysis: { provider: "tempo", query: "", success_condition: "result < 5" } },
        {},
      ).map((p) => p.field),
      ["verification.analysis.query"],
    );
  });
});

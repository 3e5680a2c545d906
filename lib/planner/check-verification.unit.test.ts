/**
 * Plan checks of verification as analysis, as a model's answer meets them:
 * the answer schema offers `verification.analysis` on write steps, a sound
 * analysis passes, and a condition, query, path or limit that could not run
 * is refused with its field and the fix (what the repair message carries).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadCatalog } from "../tools/index.ts";
import { checkDraft } from "./check.ts";
import { buildPlanSchema } from "./schema.ts";

const catalog = loadCatalog();

function draftWith(verification: Record<string, unknown>) {
  return {
    summary: "Scale web to 4.",
    steps: [
      {
        step_id: "s1",
        action_id: "kubectl.scale",
        input: { kind: "deployment", name: "web", namespace: "shop", replicas: 4 },
        target: { environment: "staging", namespace: "shop" },
        rationale: "more capacity",
        expected_effect: "web runs 4 ready replicas",
        verification: { description: "web runs 4 ready replicas", ...verification },
        rollback: null,
      },
    ],
  };
}

const read = { action_id: "kubectl.get", input: { kind: "deployment", name: "web", namespace: "shop" } };

describe("plan checks of verification analyses", () => {
  it("offers the analysis in the answer schema of write steps", () => {
    const schema = buildPlanSchema(catalog, ["kubectl.scale"]) as {
      properties: {
        steps: { items: { anyOf: { properties: { verification: { properties: Record<string, unknown> } } }[] } };
      };
    };
    const verification = schema.properties.steps.items.anyOf[0]?.properties.verification.properties;
    assert.ok(verification?.analysis, "analysis is offered");
    assert.equal(verification?.promql, undefined, "promql alone is no longer offered");
  });

  it("accepts a sound analysis: the live read compared with the step's input, or an error ratio", () => {
    const kubectl = checkDraft(
      draftWith({
        ...read,
        analysis: {
          provider: "kubectl",
          query: ".status.readyReplicas ?? 0",
          success_condition: "result == input.replicas",
          count: 10,
          failure_limit: 9,
        },
      }),
      catalog,
    );
    assert.ok(kubectl.ok, JSON.stringify(kubectl));
    const prometheus = checkDraft(
      draftWith({
        analysis: {
          provider: "prometheus",
          query:
            'sum(rate(http_requests_total{service="web",code=~"5.."}[1m])) / sum(rate(http_requests_total{service="web"}[1m]))',
          success_condition: "result < 0.05",
          failure_condition: "result >= 0.1",
          interval_seconds: 30,
          count: 4,
          inconclusive_limit: 1,
          on_inconclusive: "pause",
        },
      }),
      catalog,
    );
    assert.ok(prometheus.ok, JSON.stringify(prometheus));
  });

  for (const [name, verification, field, fix] of [
    [
      "a condition that cannot be read",
      { analysis: { provider: "prometheus", query: "sum(up)", success_condition: "result <" } },
      "steps[0].verification.analysis.success_condition",
      /result < 0.05/,
    ],
    [
      "code instead of a comparison",
      { analysis: { provider: "prometheus", query: "sum(up)", success_condition: "require('child_process')" } },
      "steps[0].verification.analysis.success_condition",
      /result/,
    ],
    [
      "an input field the step does not have",
      {
        ...read,
        analysis: { provider: "kubectl", query: ".spec.replicas", success_condition: "result == input.size" },
      },
      "steps[0].verification.analysis.success_condition",
      /input\.replicas/,
    ],
    [
      "a kubectl analysis with no read",
      { analysis: { provider: "kubectl", query: ".spec.replicas", success_condition: "result == 4" } },
      "steps[0].verification.action_id",
      /kubectl\.get/,
    ],
    [
      "a path that cannot be read",
      { ...read, analysis: { provider: "kubectl", query: "spec.replicas", success_condition: "result == 4" } },
      "steps[0].verification.analysis.query",
      /\.status\.readyReplicas/,
    ],
    [
      "an empty PromQL query",
      { analysis: { provider: "prometheus", query: " ", success_condition: "result < 1" } },
      "steps[0].verification.analysis.query",
      /PromQL/,
    ],
    [
      "a failure limit that could never be reached",
      {
        analysis: {
          provider: "prometheus",
          query: "sum(up)",
          success_condition: "result > 0",
          count: 3,
          failure_limit: 3,
        },
      },
      "steps[0].verification.analysis.failure_limit",
      /at most 2/,
    ],
    ["promql without a condition", { promql: "sum(up)" }, "steps[0].verification.promql", /analysis/],
  ] as const) {
    it(`refuses ${name}, naming the field and the fix`, () => {
      const checked = checkDraft(draftWith(verification), catalog);
      assert.ok(!checked.ok, "refused");
      const issue = checked.issues.find((i) => i.field === field);
      assert.ok(issue, `an issue on ${field}: ${JSON.stringify(checked.issues)}`);
      assert.match(issue.fix ?? "", fix);
    });
  }
});

/**
 * The console's pure parts: routes, the SSE reader, times, the open parts of API answers, the
 * measurements chart's scale and words, roles, the decision forms' text check and draft, and the
 * paused execution's panel model.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExecutionMeasurements, Explanation, Plan, Problem } from "./api/client";
import { approvalsOf, currentApproval, policyOf, stepsOf } from "./api/views";
import { checkText, newDraft, settleDraft, TEXT_LIMIT } from "./decision-form";
import { readEvents } from "./logs";
import { href, parseRoute } from "./router";
import { seriesOf } from "./screens/change-views";
import { chartSummary, domainOf, formatValue, type Series, sourceText, thresholdText } from "./screens/measurements";
import { pausedCheckOf, seriesLine } from "./screens/verdict";
import { countdown, hasRole, relative, statusBadge } from "./ui";

const stream = (...chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });

describe("routes", () => {
  it("reads a change page with its as-of time, and lists with their filters", () => {
    const change = parseRoute("#/changes/plan_1?at=2026-01-01T00%3A00%3A00.000Z");
    assert.equal(change.name, "change");
    assert.equal(change.id, "plan_1");
    assert.equal(change.query.get("at"), "2026-01-01T00:00:00.000Z");
    assert.equal(parseRoute("").name, "changes");
    assert.equal(parseRoute("#/audit?actor=bob").query.get("actor"), "bob");
    assert.equal(parseRoute("#/nowhere").name, "not-found");
  });

  it("writes filters into the URL, leaving out empty ones", () => {
    assert.equal(
      href("/changes", { status: "pending_approval", q: "", service: null }),
      "#/changes?status=pending_approval",
    );
    const round = parseRoute(href("/changes", { q: "scale checkout & more" }));
    assert.equal(round.query.get("q"), "scale checkout & more");
  });
});

describe("the SSE reader", () => {
  it("reads frames split across chunks, CRLF line ends, comments and multi-line data", async () => {
    const events: { id: string | null; data: string }[] = [];
    await readEvents(
      stream(
        ": connected\n\n",
        "id: 7\nevent: output\nda",
        'ta: {"a":1}\n\nid: 8\r\ndata: one\r\ndata: two\r\n\r\n',
        "data: partial",
      ),
      (e) => events.push(e),
    );
    assert.deepEqual(events, [
      { id: "7", data: '{"a":1}' },
      { id: "8", data: "one\ntwo" },
    ]);
  });
});

describe("times", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  it("counts down in fixed-width digits and says when it expired", () => {
    assert.equal(countdown("2026-01-01T12:04:05Z", now), "04:05 left");
    assert.equal(countdown("2026-01-01T13:00:09Z", now), "1:00:09 left");
    assert.equal(countdown("2026-01-01T11:59:59Z", now), "expired");
    assert.equal(countdown(null, now), "no expiry");
  });
  it("says how long ago", () => {
    assert.equal(relative("2026-01-01T11:59:30Z", now), "30 s ago");
    assert.equal(relative("2026-01-01T10:00:00Z", now), "2 h ago");
    assert.equal(relative("2026-01-01T12:10:00Z", now), "in 10 min");
  });
});

describe("the open parts of a plan", () => {
  const plan = {
    revision: 2,
    policy: {
      reasons: ["s2: T1 write"],
      policy_revision: "abc",
      expires_at: "2026-01-01T13:00:00Z",
      approval: {
        approvers: 2,
        groups: [{ group: "sre", count: 1 }],
        self_approval: false,
        channels: ["api", "console"],
      },
    },
    approvals: [
      { approval_id: "a1", revision: 1, status: "expired", approvers: [] },
      {
        approval_id: "a2",
        revision: 2,
        status: "pending",
        approvers_required: 2,
        approvers: [
          { approver: "bob", via: "console", digest: "d".repeat(64), groups: ["sre"], comment: "ok", at: "t" },
        ],
        channels: ["console"],
        links: { linear: "https://linear.example/ISSUE-1", bad: 3 },
        expires_at: "2026-01-01T12:30:00Z",
        requested_at: "2026-01-01T12:00:00Z",
      },
    ],
    steps: [{ step_id: "s1", action_id: "kubectl.scale", input: { replicas: 3 }, tier: "T1", reasons: ["x", 1] }],
  } as unknown as Plan;

  it("reads approvals, the requirement and steps field by field", () => {
    assert.equal(currentApproval(plan)?.approvalId, "a2");
    assert.deepEqual(currentApproval(plan)?.links, { linear: "https://linear.example/ISSUE-1" });
    assert.equal(approvalsOf(plan)[1]?.approvers[0]?.via, "console");
    assert.deepEqual(policyOf(plan)?.requirement, {
      approvers: 2,
      groups: [{ group: "sre", count: 1 }],
      selfApproval: false,
      channels: ["api", "console"],
    });
    assert.deepEqual(stepsOf(plan)[0]?.reasons, ["x"]);
  });

  it("takes a plan without a decision", () => {
    assert.equal(policyOf({ ...plan, policy: null }), null);
    assert.equal(currentApproval({ ...plan, approvals: [] }), null);
  });
});

describe("measurements", () => {
  it("finds a time series in a verification's evidence, or none", () => {
    assert.deepEqual(seriesOf("[1,2,3]"), [1, 2, 3]);
    assert.deepEqual(seriesOf('{"series":[[0,5],[1,6]]}'), [5, 6]);
    assert.deepEqual(seriesOf('{"values":[{"value":"7"}]}'), [7]);
    assert.deepEqual(seriesOf("deployment rolled out"), []);
    assert.deepEqual(seriesOf(undefined), []);
  });
});

describe("measurements chart", () => {
  const series: Series = {
    step_id: "scale",
    provider: "prometheus",
    query: "error_ratio",
    description: null,
    success_condition: "result < 0.05",
    failure_condition: "result >= 0.2",
    success_threshold: { op: "<", value: 0.05 },
    failure_threshold: { op: ">=", value: 0.2 },
    measurements: [
      { attempt: 1, value: 0.01, outcome: "pass", reason: "", measured_at: "2026-03-01T12:00:00Z", evidence_id: null },
      {
        attempt: 2,
        value: null,
        outcome: "inconclusive",
        reason: "",
        measured_at: "2026-03-01T12:00:10Z",
        evidence_id: null,
      },
      { attempt: 3, value: 0.3, outcome: "fail", reason: "", measured_at: "2026-03-01T12:00:20Z", evidence_id: null },
    ],
  };

  it("shows every value and threshold, from 0 for values that cannot be negative", () => {
    const [low, high] = domainOf(series);
    assert.equal(low, 0);
    assert.ok(high > 0.3, `${high}`);
    assert.deepEqual(
      domainOf({ ...series, measurements: [], success_threshold: null, failure_threshold: null }),
      [0, 1],
    );
    const [l, h] = domainOf({ ...series, measurements: [{ ...series.measurements[0], value: -5 } as never] });
    assert.ok(l < -5 && h > 0.2, `${l}..${h}`);
  });

  it("labels values and thresholds briefly", () => {
    assert.equal(formatValue(0.05), "0.05");
    assert.equal(formatValue(12_345), "12.3k");
    assert.equal(formatValue(0.00002), "2.0e-5");
    assert.equal(thresholdText({ op: ">=", value: 0.2 }), "≥ 0.2");
    assert.equal(thresholdText(null), null);
  });

  it("says in words what the chart draws (its accessible name)", () => {
    assert.equal(
      chartSummary(series),
      "prometheus error_ratio: 3 measurements (1 pass, 1 fail, 1 inconclusive); passes < 0.05, fails ≥ 0.2",
    );
    // A kubectl read's query names its action already: the provider is not said twice.
    const kubectl: Series = { ...series, provider: "kubectl", query: "kubectl.get .status.readyReplicas ?? 0" };
    assert.equal(sourceText(kubectl), "kubectl.get .status.readyReplicas ?? 0");
    assert.equal(sourceText({ ...series, query: "" }), "prometheus read");
  });
});

describe("roles", () => {
  const me = (roles: ("viewer" | "operator" | "approver" | "admin")[]) => ({
    kind: "user" as const,
    id: "x",
    roles,
    groups: [],
    display_name: null,
  });
  it("offers an action to the roles its route allows (admin can do anything)", () => {
    assert.equal(hasRole(me(["operator"]), "operator"), true);
    assert.equal(hasRole(me(["admin"]), "operator"), true);
    assert.equal(hasRole(me(["approver", "viewer"]), "operator"), false);
    assert.equal(hasRole(null, "viewer"), false);
  });
});

describe("decision forms", () => {
  const reason = { required: true, why: "why the analysis passes or fails" };
  const comment = { required: false, why: "what you checked" };

  it("sends the text trimmed; an optional text may be empty, a required one may not", () => {
    assert.deepEqual(checkText("  no traffic tonight \n", reason), { ok: true, text: "no traffic tonight" });
    assert.deepEqual(checkText("", comment), { ok: true, text: null });
    assert.deepEqual(checkText(" \n\t", comment), { ok: true, text: null });
    for (const empty of ["", "   ", "\n\t"]) {
      assert.deepEqual(checkText(empty, reason), {
        ok: false,
        message: "A reason is required: say why the analysis passes or fails.",
      });
    }
  });

  it("refuses a text longer than the API takes, saying by how much", () => {
    assert.equal(checkText("x".repeat(TEXT_LIMIT), reason).ok, true);
    const long = checkText("x".repeat(TEXT_LIMIT + 1), comment);
    assert.deepEqual(long, {
      ok: false,
      message: "The text is 2001 characters long, more than the 2000 allowed: shorten it.",
    });
  });

  it("keeps what was typed when the API refuses, and clears it when it accepts", () => {
    const problem = { title: "Conflict", status: 409, code: "conflict", detail: "not paused" } as Problem;
    const typed = { ...newDraft(), text: "the canary is judged by hand" };
    assert.deepEqual(settleDraft(typed, problem), { text: "the canary is judged by hand", invalid: null, problem });
    assert.deepEqual(settleDraft({ ...typed, problem }, null), newDraft());
  });
});

describe("a paused execution", () => {
  type Story = Explanation["executions"][number];
  const event = (type: string, occurred_at: string) => ({
    event_id: type,
    seq: 1,
    type,
    occurred_at,
    actor: { kind: "service" as const, id: "orchestrator" },
    audit: null,
  });
  const pause = {
    step_id: "s2",
    check: "release payments reports status deployed; payments's error ratio stays below 5%",
    reason: "prometheus: no sample; 1 inconclusive measurement(s), more than the 0 allowed",
    attempts: 1,
    deadline: "2026-03-01T13:00:00Z",
    event: event("execution.paused", "2026-03-01T12:00:00Z"),
    verdict: null,
  };
  const story = { execution_id: "x1", status: "paused", pauses: [pause] } as unknown as Story;
  const measured = (step_id: string, query: string) => ({
    step_id,
    provider: "prometheus",
    query,
    description: null,
    success_condition: "result < 0.05",
    failure_condition: null,
    success_threshold: { op: "<" as const, value: 0.05 },
    failure_threshold: null,
    measurements: [
      {
        attempt: 1,
        value: null,
        outcome: "inconclusive" as const,
        reason: "no value: the query answered no sample",
        measured_at: "2026-03-01T11:59:58Z",
        evidence_id: null,
      },
    ],
  });
  const measurements = {
    execution_id: "x1",
    series: [measured("s1", "readiness"), measured("s2", "error_ratio")],
  } as unknown as ExecutionMeasurements;

  it("names the check awaiting a verdict, why it is inconclusive, and only its own step's measurements", () => {
    const paused = pausedCheckOf(story, "paused", measurements);
    assert.equal(paused?.kind, "awaiting");
    assert.ok(paused?.kind === "awaiting");
    assert.equal(paused.check, pause.check);
    assert.equal(paused.stepId, "s2");
    assert.equal(paused.reason, pause.reason);
    assert.equal(paused.attempts, 1);
    assert.equal(paused.deadline, "2026-03-01T13:00:00Z");
    assert.deepEqual(
      paused.series.map((s) => s.query),
      ["error_ratio"],
    );
    assert.equal(
      seriesLine(paused.series[0] as never),
      "prometheus error_ratio: 1 measurements (0 pass, 0 fail, 1 inconclusive); passes < 0.05. Last, #1: no value, inconclusive (no value: the query answered no sample)",
    );
  });

  it("is not paused when the read model says otherwise, whatever the story recorded", () => {
    for (const status of ["running", "succeeded", "failed", "cancelled", "verification_failed"]) {
      assert.equal(pausedCheckOf(story, status, measurements), null, status);
    }
  });

  it("shows a verdict already given while the read model still says paused", () => {
    const verdict = {
      decision: "pass" as const,
      reason: "no traffic tonight",
      requested_by: "alice",
      event: event("execution.verdict_requested", "2026-03-01T12:01:00Z"),
    };
    const given = pausedCheckOf({ ...story, pauses: [{ ...pause, verdict }] }, "paused", measurements);
    assert.deepEqual(given, { kind: "given", stepId: "s2", check: pause.check, verdict });
  });

  it("still asks for a verdict on a run that paused before pauses were recorded, without naming the check", () => {
    assert.deepEqual(pausedCheckOf({ ...story, pauses: [] }, "paused", measurements), {
      kind: "awaiting",
      stepId: null,
      check: null,
      reason: null,
      attempts: null,
      deadline: null,
      series: [],
    });
  });

  it("has a badge colour of its own", () => {
    assert.deepEqual(statusBadge("paused").values, ["paused", "paused"]);
    assert.deepEqual(statusBadge("pending_approval").values, ["warn", "pending approval"]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Explanation, explanationLines } from "./explain.ts";

const ref = { seq: 1, occurred_at: "2026-11-26T10:00:00.000Z", actor: { id: "alice" }, audit: null };

const story = (pauses: NonNullable<Explanation["executions"][number]["pauses"]> | undefined): Explanation => ({
  plan_id: "p1",
  intent: null,
  planner: { prompt: [], model_response: [] },
  revisions: [],
  policy: [],
  approvals: [],
  executions: [
    {
      execution_id: "x1",
      status: "paused",
      dry_run: false,
      tool_calls: [],
      verification: [],
      ...(pauses === undefined ? {} : { pauses }),
      rollback: [],
    },
  ],
  timeline: [ref],
});

const pause = {
  step_id: "rollback-release",
  check: "error ratio below 5%",
  reason: "the query returned no series",
  attempts: 1,
  deadline: "2026-11-26T10:30:00.000Z",
};

describe("wheelhouse explain: an execution's pauses", () => {
  it("names the paused check, why, and the command that gives the verdict", () => {
    const lines = explanationLines(story([{ ...pause, verdict: null }]));
    assert.ok(
      lines.includes(
        "  paused at rollback-release: error ratio below 5% inconclusive after 1 measurement (the query returned no series)",
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.includes(
        '    waiting for a verdict until 2026-11-26T10:30:00.000Z: wheelhouse executions verdict x1 pass|fail --reason "..."',
      ),
      lines.join("\n"),
    );
  });

  it("shows the verdict once given", () => {
    const verdict = { decision: "pass" as const, reason: "no traffic; checked by hand", requested_by: "alice" };
    const lines = explanationLines(story([{ ...pause, attempts: 3, verdict }]));
    assert.ok(lines.some((l) => l.includes("inconclusive after 3 measurements")));
    assert.ok(lines.includes("    verdict: pass by alice: no traffic; checked by hand"), lines.join("\n"));
  });

  it("prints nothing of pauses for a gateway that sends none", () => {
    const lines = explanationLines(story(undefined));
    assert.deepEqual(lines, ["plan p1", "execution x1: paused", "1 events"]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnyEvent, newEvent } from "../../events/index.ts";
import { recorded, recordedChange } from "../../test/support/events.ts";
import { type ExecutionView, evolveExecutionView, foldExecutionView } from "./fold.ts";

const executionEvents = (n: number) =>
  recordedChange(n).filter((e) => e.aggregate_type === "execution" && e.type !== "evidence.stored");
const system = { kind: "service" as const, id: "orchestrator", roles: [] };

/** An execution with `calls` tool calls, started and completed. */
function longExecution(calls: number) {
  const id = "x-long";
  const meta = { actor: system, correlation_id: "c" };
  const events: AnyEvent[] = [
    newEvent("execution.requested", id, { execution_id: id, plan_id: "p", revision: 1 }, meta),
  ];
  for (let i = 0; i < calls; i++) {
    const tool_call_id = `t${i}`;
    events.push(
      newEvent(
        "tool_call.started",
        id,
        {
          execution_id: id,
          tool_call_id,
          step_id: "s1",
          action_id: "kubectl.scale",
          argv: ["kubectl"],
          binary: "kubectl",
          via: "cli",
          dry_run: false,
        },
        meta,
      ),
      newEvent(
        "tool_call.completed",
        id,
        {
          execution_id: id,
          tool_call_id,
          step_id: "s1",
          status: "succeeded",
          exit_code: 0,
          duration_ms: 1,
          truncated: false,
        },
        meta,
      ),
    );
  }
  return recorded(events);
}

describe("executions fold", () => {
  it("given no execution, when it runs a tool call and succeeds, then the view has both", () => {
    const view = foldExecutionView(null, executionEvents(1));
    assert.equal(view?.execution.status, "succeeded");
    assert.equal(view?.execution.plan_id, "u-plan-1");
    assert.equal(view?.execution.verification.length, 1);
    const call = view?.toolCalls["u-exec-1-t1"];
    assert.equal(call?.status, "succeeded");
    assert.equal(call?.binary_name, "kubectl");
    assert.equal(call?.evidence_id, "u-exec-1-ev1");
  });

  it("given events in any split, when folded batch by batch or one by one, then the views are equal", () => {
    const events = executionEvents(2);
    const oneByOne = events.reduce<ExecutionView | null>(evolveExecutionView, null);
    for (let cut = 0; cut <= events.length; cut++) {
      assert.deepEqual(foldExecutionView(foldExecutionView(null, events.slice(0, cut)), events.slice(cut)), oneByOne);
    }
  });

  it("given a view, when folded further, then the given view is left exactly as it was (pure)", () => {
    const events = executionEvents(3);
    const before = foldExecutionView(null, events.slice(0, 4));
    const frozen = structuredClone(before);
    foldExecutionView(before, events.slice(4));
    assert.deepEqual(before, frozen);
  });

  it("given a fold, when only one tool call changed, then the others keep their identity", () => {
    const events = longExecution(3);
    const before = foldExecutionView(null, events.slice(0, 5));
    const after = foldExecutionView(before, events.slice(5));
    assert.equal(after?.toolCalls.t0, before?.toolCalls.t0);
    assert.notEqual(after?.toolCalls.t2, before?.toolCalls.t2);
  });

  it("given tool calls recorded before the execution row, when the execution arrives, then both are kept", () => {
    const events = executionEvents(4);
    const calls = events.filter((e) => e.type.startsWith("tool_call."));
    const rest = events.filter((e) => !e.type.startsWith("tool_call."));
    const onlyCalls = foldExecutionView(null, calls);
    const view = foldExecutionView(onlyCalls, rest);
    assert.equal(view?.execution.status, "succeeded");
    assert.equal(Object.keys(view?.toolCalls ?? {}).length, 1);
  });

  it("given events of other read models, when folded, then nothing changes", () => {
    const plans = recordedChange(5).filter((e) => e.aggregate_type === "plan");
    assert.equal(foldExecutionView(null, plans), null);
  });
});

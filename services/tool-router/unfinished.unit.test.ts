/**
 * A call whose CLI started when its sandbox went away (a host that crashed, a
 * sandbox process killed) has no known outcome: the router records no end for
 * it and answers 503, so the orchestrator's retry settles it from the live
 * state (its unfinished-call check) instead of reading a `refused` that would
 * say the CLI never ran. A sandbox that fails before the CLI starts is still
 * a refusal.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UnavailableError } from "../../lib/errors/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { createToolRouter, type RunInSandbox, type ToolRouterEvent } from "./router.ts";

const catalog = loadCatalog();
const request = {
  tool_call_id: "tc-1",
  execution_id: "ex-1",
  step_id: "s1",
  action_id: "kubectl.scale",
  input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 3 },
};

function routerWith(runInSandbox: RunInSandbox) {
  const events: ToolRouterEvent[] = [];
  const router = createToolRouter({
    catalog,
    runInSandbox,
    isInstalled: async () => true,
    onEvent: (event) => {
      events.push(event);
    },
  });
  return { router, events };
}

describe("a call whose sandbox went away", () => {
  it("after the CLI started: no end is recorded, and the caller gets a 503 saying the outcome is unknown", async () => {
    const { router, events } = routerWith(async (_spec, hooks) => {
      hooks.onStarted({ binary: "/usr/bin/kubectl", argv: ["kubectl", "scale"] });
      throw new UnavailableError("the sandbox host running this call exited (signal SIGKILL)", { fix: "retry" });
    });
    const error = await router.executeTool(request).then(
      () => assert.fail("the call must not answer a result"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof UnavailableError, String(error));
    assert.equal(error.status, 503);
    assert.match(error.message, /kubectl\.scale started, but its outcome is unknown: the sandbox host/);
    assert.match(error.fix ?? "", /checks the live state/);
    assert.deepEqual(
      events.map((e) => e.type),
      ["tool_call.started"],
      "started, and no tool_call.completed (refused would claim it never ran)",
    );
  });

  it("before the CLI started: the call is refused, as any call that did not run", async () => {
    const { router, events } = routerWith(async () => {
      throw new UnavailableError("sandbox-exec ended without a result (exit 1)", { fix: "check the logs" });
    });
    await assert.rejects(router.executeTool(request), UnavailableError);
    const completed = events.find((e) => e.type === "tool_call.completed");
    assert.equal(completed?.type, "tool_call.completed");
    assert.equal(completed.payload.status, "refused");
  });
});

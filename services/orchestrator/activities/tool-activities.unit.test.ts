import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApplicationFailure } from "@temporalio/activity";
import type { EventStore } from "../../../lib/eventstore/index.ts";
import { createLogger } from "../../../lib/log/index.ts";
import { TOOL_ACTIVITY_ACTIONS, type ToolActivityType } from "../../../lib/orchestration/workflow.ts";
import { createCapabilityMinter, generateCapabilityKeys, loadCatalog } from "../../../lib/tools/index.ts";
import { createToolClient } from "../tool-client.ts";
import { createToolActivities } from "./tool-activities.ts";

describe("named tool activities", () => {
  const activities = createToolActivities({
    // Never reached: a call under the wrong name is refused before the store or the router is asked.
    store: {} as EventStore,
    tools: createToolClient({ url: "http://127.0.0.1:9" }),
    catalog: loadCatalog(),
    logger: createLogger({ service: "tool-activities-test", level: "silent", format: "json" }),
    capabilities: createCapabilityMinter({ signingKey: generateCapabilityKeys().signingKey }),
    capabilityTtlMs: 60_000,
    now: () => new Date(),
    heartbeatMs: 5000,
  });

  it("has one activity per named catalog action, each an action of the catalog", () => {
    const catalog = loadCatalog();
    assert.deepEqual(Object.keys(activities).sort(), Object.keys(TOOL_ACTIVITY_ACTIONS).sort());
    for (const action of Object.values(TOOL_ACTIVITY_ACTIONS)) assert.ok(catalog.get(action), action);
  });

  it("refuses, never retried, a call of another action than its own", async () => {
    for (const type of Object.keys(activities) as ToolActivityType[]) {
      const other = type === "KubectlScaleActivity" ? "kubectl.annotate" : "kubectl.scale";
      await assert.rejects(
        activities[type]({
          execution_id: "ex-1",
          step_id: "s1",
          tool_call_id: "ex-1-s1",
          action_id: other,
          input: {},
          dry_run: false,
          purpose: "step",
          plan: { plan_id: "plan-1", revision: 1 },
        }),
        (error: unknown) => {
          assert.ok(error instanceof ApplicationFailure);
          assert.equal(error.type, "ToolCallRefused");
          assert.equal(error.nonRetryable, true);
          assert.match(
            error.message,
            new RegExp(`${type} runs ${TOOL_ACTIVITY_ACTIONS[type].replace(".", "\\.")} only`),
          );
          return true;
        },
      );
    }
  });
});

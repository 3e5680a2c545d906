/**
 * Replays a recorded history of each execution workflow type (and of the
 * generic `executePlan`) against today's workflow bundle: a change that
 * makes the workflows decide differently from the same history (another
 * activity, another order, a timer more) fails here before it fails running
 * executions. No server: `Worker.runReplayHistory` replays in process.
 * Histories are recorded by record.ts (see there to record them again).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { Worker, type WorkflowBundleWithSourceMap } from "@temporalio/worker";
import { DeterminismViolationError } from "@temporalio/workflow";
import { workflowBundle } from "../worker.ts";
import { STARTED_BESIDE_PLAN_PATCH } from "../workflows/run.ts";
import { historyFromJson } from "./history.ts";
import { HISTORIES_DIR, QUEUED_BOOKKEEPING_DIR, SCENARIOS, STARTED_THEN_PLAN_DIR } from "./record.ts";

interface HistoryJson {
  events: {
    eventType: string;
    workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
    activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
    markerRecordedEventAttributes?: {
      markerName?: string;
      details?: { "patch-data"?: { payloads?: { data?: string }[] } };
    };
  }[];
}

/**
 * Today's histories, those recorded before a run recorded its start while it read its plan, and those
 * from before the store's activities ran locally (all on the task queue).
 */
const GENERATIONS = [
  { name: "local bookkeeping, start recorded beside the plan read", dir: HISTORIES_DIR },
  { name: "local bookkeeping, start recorded before the plan read", dir: STARTED_THEN_PLAN_DIR },
  { name: "queued bookkeeping, recorded before local activities", dir: QUEUED_BOOKKEEPING_DIR },
] as const;

const historyOf = (type: string, dir: string = HISTORIES_DIR): HistoryJson =>
  JSON.parse(readFileSync(join(dir, `${type}.json`), "utf8")) as HistoryJson;

const scheduledActivities = (history: HistoryJson) =>
  history.events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);

const BOOKKEEPING = ["loadPlan", "checkApproval", "recordEvent"];

/** The patch ids a history's run took (its `core_patch` markers). */
const patchesOf = (history: HistoryJson) =>
  history.events.flatMap((e) => {
    const attributes = e.markerRecordedEventAttributes;
    if (attributes?.markerName !== "core_patch") return [];
    const data = attributes.details?.["patch-data"]?.payloads?.[0]?.data ?? "";
    return [(JSON.parse(Buffer.from(data, "base64").toString("utf8")) as { id: string }).id];
  });

describe("replay of recorded execution histories", { timeout: 120_000 }, () => {
  let bundle: WorkflowBundleWithSourceMap;
  before(async () => {
    bundle = await workflowBundle();
  });

  for (const generation of GENERATIONS) {
    for (const { type } of SCENARIOS) {
      it(`replays ${type} (${generation.name})`, async () => {
        const history = historyOf(type, generation.dir);
        const started = history.events[0]?.workflowExecutionStartedEventAttributes;
        assert.equal(started?.workflowType?.name, type, "the history is a run of this workflow type");
        await Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJson(history));
      });
    }
  }

  it("runs the store's activities locally today (markers, nothing on the task queue) and queued before", () => {
    for (const { type } of SCENARIOS) {
      const today = historyOf(type);
      assert.deepEqual(
        scheduledActivities(today).filter((a) => BOOKKEEPING.includes(a)),
        [],
        `${type}: bookkeeping on the task queue`,
      );
      assert.ok(
        today.events.some((e) => e.markerRecordedEventAttributes?.markerName === "core_local_activity"),
        `${type}: no local activity marker`,
      );
      const before = scheduledActivities(historyOf(type, QUEUED_BOOKKEEPING_DIR));
      for (const activity of ["loadPlan", "recordEvent"]) {
        assert.ok(before.includes(activity), `${type} before: ${activity} queued`);
      }
    }
  });

  it("records the start beside the plan read today (its patch taken), one after the other before", () => {
    for (const { type } of SCENARIOS) {
      assert.ok(patchesOf(historyOf(type)).includes(STARTED_BESIDE_PLAN_PATCH), `${type}: patch not taken`);
      for (const dir of [STARTED_THEN_PLAN_DIR, QUEUED_BOOKKEEPING_DIR]) {
        assert.ok(!patchesOf(historyOf(type, dir)).includes(STARTED_BESIDE_PLAN_PATCH), `${type} in ${dir}`);
      }
    }
  });

  it("the histories between them schedule every activity the engine calls", () => {
    const scheduled = new Set(
      GENERATIONS.flatMap(({ dir }) => SCENARIOS.flatMap(({ type }) => scheduledActivities(historyOf(type, dir)))),
    );
    for (const activity of [
      "loadPlan",
      "checkApproval",
      "recordEvent",
      "runTool",
      "ArgoSyncActivity",
      "ArgoWaitActivity",
      "HelmStatusActivity",
      "HelmUpgradeActivity",
      "HelmRollbackActivity",
      "KubectlScaleActivity",
      "KubectlRolloutStatusActivity",
      "CreateGrafanaAnnotationActivity",
      "CreatePagerDutyIncidentActivity",
      "CreateLinearIssueActivity",
      "CreateGitPullRequestActivity",
    ]) {
      assert.ok(scheduled.has(activity), `no recorded history schedules ${activity}`);
    }
  });

  it("fails a history the workflow would not have made (a write scheduled as another activity)", async () => {
    const history = historyOf("ScaleServiceWorkflow");
    const scale = history.events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === "KubectlScaleActivity",
    );
    assert.ok(scale?.activityTaskScheduledEventAttributes?.activityType, "the history schedules KubectlScaleActivity");
    scale.activityTaskScheduledEventAttributes.activityType.name = "runTool";
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJson(history)),
      DeterminismViolationError,
    );
  });
});

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
import { historyFromJson } from "./history.ts";
import { HISTORIES_DIR, QUEUED_BOOKKEEPING_DIR, SCENARIOS } from "./record.ts";

interface HistoryJson {
  events: {
    eventType: string;
    workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
    activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
    markerRecordedEventAttributes?: { markerName?: string };
  }[];
}

/** Today's histories (the store's activities local) and those recorded before (all on the task queue). */
const GENERATIONS = [
  { name: "local bookkeeping", dir: HISTORIES_DIR },
  { name: "queued bookkeeping, recorded before local activities", dir: QUEUED_BOOKKEEPING_DIR },
] as const;

const historyOf = (type: string, dir: string = HISTORIES_DIR): HistoryJson =>
  JSON.parse(readFileSync(join(dir, `${type}.json`), "utf8")) as HistoryJson;

const scheduledActivities = (history: HistoryJson) =>
  history.events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);

const BOOKKEEPING = ["loadPlan", "checkApproval", "recordEvent"];

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

/**
 * The named tool activities (ArgoSyncActivity, HelmUpgradeActivity,
 * KubectlScaleActivity, …): each is `runTool` for one catalog action, so
 * the capability, the plan-revision check and the exactly-once reuse of a
 * recorded call hold for them as for any tool call. What each adds is its
 * own activity type (its own retry policy, its own name in the history) and
 * a refusal, never retried, of any other action: a call scheduled under the
 * wrong name is a bug, not something to run.
 */

import type { RunToolInput, ToolRunSummary } from "../../../lib/orchestration/activities.ts";
import {
  TOOL_ACTIVITY_ACTIONS,
  type ToolActivities,
  type ToolActivityType,
} from "../../../lib/orchestration/workflow.ts";
import { refused } from "./temporal.ts";
import { type RunToolDeps, runTool } from "./tool-call.ts";

export type { ToolActivities } from "../../../lib/orchestration/workflow.ts";

export function createToolActivities(deps: RunToolDeps): ToolActivities {
  const named = (type: ToolActivityType) => {
    const actionId = TOOL_ACTIVITY_ACTIONS[type];
    return async (input: RunToolInput): Promise<ToolRunSummary> => {
      if (input.action_id !== actionId) {
        throw refused(`${type} runs ${actionId} only; ${input.action_id} is scheduled as its own activity or runTool`);
      }
      return runTool(deps, input);
    };
  };
  return {
    ArgoSyncActivity: named("ArgoSyncActivity"),
    ArgoWaitActivity: named("ArgoWaitActivity"),
    HelmStatusActivity: named("HelmStatusActivity"),
    HelmUpgradeActivity: named("HelmUpgradeActivity"),
    HelmRollbackActivity: named("HelmRollbackActivity"),
    KubectlScaleActivity: named("KubectlScaleActivity"),
    KubectlRolloutStatusActivity: named("KubectlRolloutStatusActivity"),
  };
}

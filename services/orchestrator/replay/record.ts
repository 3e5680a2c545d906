/**
 * Records the histories the replay test replays: each execution workflow
 * type (and the generic `executePlan`) run once against the real Temporal
 * dev server, its history exported with the Temporal CLI as JSON into
 * `histories/<Type>.json`.
 *
 * The workflows run for real; their activities here are scripted stand-ins
 * registered under the real activity types, answering as the real ones do
 * (a tool call's summary, a recorded event's sequence, an integration's
 * reference), so that each history takes the path worth keeping: a dry run
 * and a write, a verification that fails into a rollback, a rollback that
 * cannot undo everything and pages, the follow-up of an incident. A replay
 * reads only the history, not the activities, so the stand-ins cost the
 * test nothing of what it checks: that today's workflow code still makes
 * the same decisions from the same history.
 *
 * Run it again when a change to the workflows is meant to change what they
 * schedule, behind a `patched` marker so that the histories already recorded
 * still replay: move them to a folder of their own first (as
 * `histories/queued-bookkeeping/` holds those from before local activities)
 * and add that folder to the replay test:
 *   source scripts/env.sh && node --import tsx services/orchestrator/replay/record.ts
 * It needs Temporal at WH_TEMPORAL_ADDRESS (default 127.0.0.1:7322) and the CLI at
 * $WH_TOOLS_BIN/temporal (or `temporal` on PATH).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DefaultLogger, Runtime, Worker } from "@temporalio/worker";
import type { WorkflowType } from "../../../events/index.ts";
import type { PlannedStep, RunToolInput, ToolRunSummary } from "../../../lib/orchestration/activities.ts";
import type { ExecutePlanInput, ExecutionOutcome } from "../../../lib/orchestration/workflow.ts";
import { connectTemporal } from "../../../lib/temporal/connect.ts";
import { workflowBundle } from "../worker.ts";

export const HISTORIES_DIR = fileURLToPath(new URL("./histories/", import.meta.url));
/**
 * Histories recorded before the store's activities ran as local activities (run.ts,
 * LOCAL_BOOKKEEPING_PATCH): kept, not recorded again, so that runs started before that change are
 * proved to replay on today's code.
 */
export const QUEUED_BOOKKEEPING_DIR = join(HISTORIES_DIR, "queued-bookkeeping");
/**
 * Histories recorded with local bookkeeping but before a run recorded `execution.started` while it
 * read its plan (engine.ts, STARTED_BESIDE_PLAN_PATCH): one after the other.
 */
export const STARTED_THEN_PLAN_DIR = join(HISTORIES_DIR, "started-then-plan");

/** What one recorded run does: its type, its plan's steps, which tool calls fail, and how it must end. */
interface Scenario {
  readonly type: WorkflowType | "executePlan";
  readonly steps: PlannedStep[];
  readonly fails?: (call: RunToolInput) => boolean;
  readonly expect: ExecutionOutcome["status"];
}

const deployment = { kind: "deployment", name: "checkout", namespace: "shop" };
const write = { kind: "write" as const, dry_run_supported: true, dry_run_first: true };
const read = { kind: "read" as const, dry_run_supported: false, dry_run_first: false };

export const SCENARIOS: readonly Scenario[] = [
  {
    // Sync, wait, verify by reading the app back: every call a named Argo activity, annotated at both ends;
    // then the version bump proposed as a pull request (CreateGitPullRequestActivity, not a tool call).
    type: "GitOpsDeployWorkflow",
    steps: [
      {
        step_id: "sync",
        action_id: "argocd.app_sync",
        input: { app: "checkout" },
        ...write,
        verification: { description: "checkout is synced", action_id: "argocd.app_wait", input: { app: "checkout" } },
        rollback: { action_id: "argocd.app_rollback", input: { app: "checkout", id: 1 } },
      },
      { step_id: "wait", action_id: "argocd.app_wait", input: { app: "checkout" }, ...read },
      {
        step_id: "propose",
        action_id: "git.pull_request",
        input: {
          repo: "acme/gitops",
          base: "main",
          branch: "wheelhouse/checkout-production-v1.4.2",
          title: "Deploy checkout v1.4.2 to production",
          body: "Requested through Wheelhouse.",
          files: [{ path: "apps/checkout/production/version.yaml", content: "version: v1.4.2\n" }],
        },
        ...write,
        dry_run_supported: false,
        dry_run_first: false,
      },
    ],
    expect: "succeeded",
  },
  {
    // The upgrade's verification keeps failing until its deadline: the release is rolled back.
    type: "HelmReleaseWorkflow",
    steps: [
      { step_id: "status", action_id: "helm.status", input: { release: "checkout", namespace: "shop" }, ...read },
      {
        step_id: "upgrade",
        action_id: "helm.upgrade",
        input: { release: "checkout", chart: "shop/checkout", version: "2.0.0", namespace: "shop" },
        ...write,
        verification: {
          description: "the release is deployed",
          action_id: "helm.status",
          input: { release: "checkout", namespace: "shop" },
        },
        rollback: { action_id: "helm.rollback", input: { release: "checkout", revision: 1, namespace: "shop" } },
      },
    ],
    fails: (call) => call.purpose === "verification",
    expect: "failed",
  },
  {
    type: "ScaleServiceWorkflow",
    steps: [
      {
        step_id: "scale",
        action_id: "kubectl.scale",
        input: { ...deployment, replicas: 4 },
        ...write,
        verification: {
          description: "the rollout completes",
          action_id: "kubectl.rollout_status",
          input: deployment,
        },
        rollback: { action_id: "kubectl.scale", input: { ...deployment, replicas: 2 } },
      },
    ],
    expect: "succeeded",
  },
  {
    // A restart raised by an alert, verified; ends with the Linear follow-up.
    type: "IncidentRemediationWorkflow",
    steps: [
      {
        step_id: "restart",
        action_id: "kubectl.rollout_restart",
        input: deployment,
        ...write,
        dry_run_supported: false,
        dry_run_first: false,
        verification: {
          description: "the rollout completes",
          action_id: "kubectl.rollout_status",
          input: deployment,
        },
      },
    ],
    expect: "succeeded",
  },
  {
    // The secret is written, the restart after it fails, and the secret's rollback fails too: PagerDuty.
    type: "SecretRotationWorkflow",
    steps: [
      {
        step_id: "put",
        action_id: "vault.kv_put",
        input: { mount: "secret", path: "shop/checkout", data_ref: "env:NEW_DB_PASSWORD" },
        ...write,
        dry_run_supported: false,
        dry_run_first: false,
        rollback: { action_id: "vault.kv_rollback", input: { mount: "secret", path: "shop/checkout", version: 3 } },
      },
      {
        step_id: "restart",
        action_id: "kubectl.rollout_restart",
        input: deployment,
        ...write,
        dry_run_supported: false,
        dry_run_first: false,
      },
    ],
    fails: (call) => call.action_id === "kubectl.rollout_restart" || call.purpose === "rollback",
    expect: "failed",
  },
  {
    // The generic workflow as executions started before the five types ran it: every call is runTool.
    type: "executePlan",
    steps: [
      {
        step_id: "s1",
        action_id: "kubectl.scale",
        input: { ...deployment, replicas: 4 },
        ...write,
        verification: { description: "reads back", action_id: "kubectl.get", input: deployment },
        rollback: { action_id: "kubectl.scale", input: { ...deployment, replicas: 2 } },
      },
    ],
    expect: "succeeded",
  },
];

/** Stand-ins for every activity the scenarios schedule, answering for the scenario whose plan it is. */
function standInActivities(byPlan: ReadonlyMap<string, Scenario>) {
  let seq = 0;
  const tool = async (call: RunToolInput): Promise<ToolRunSummary> => {
    const failed = byPlan.get(call.plan?.plan_id ?? "")?.fails?.(call) === true;
    return {
      tool_call_id: call.tool_call_id,
      ok: !failed,
      status: failed ? "failed" : "succeeded",
      exit_code: failed ? 1 : 0,
      detail: failed ? `${call.action_id}: scripted failure` : `${call.action_id}: ok`,
      evidence_id: null,
      reused: false,
    };
  };
  return {
    loadPlan: async (plan: { plan_id: string }) => byPlan.get(plan.plan_id)?.steps ?? [],
    checkApproval: async () => {},
    recordEvent: async () => ({ seq: ++seq, duplicate: false }),
    runTool: tool,
    ArgoSyncActivity: tool,
    ArgoWaitActivity: tool,
    HelmStatusActivity: tool,
    HelmUpgradeActivity: tool,
    HelmRollbackActivity: tool,
    KubectlScaleActivity: tool,
    KubectlRolloutStatusActivity: tool,
    CreateGrafanaAnnotationActivity: async () => ({ annotation_id: ++seq }),
    CreatePagerDutyIncidentActivity: async (input: { execution_id: string }) => ({ dedup_key: input.execution_id }),
    CreateLinearIssueActivity: async () => ({ issue_id: "ENG-1", url: "http://127.0.0.1/ENG-1" }),
    CreateGitPullRequestActivity: async () => ({ url: "https://github.com/acme/gitops/pull/1", number: 1 }),
  };
}

const run = promisify(execFile);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger("WARN") });
  const address = process.env.WH_TEMPORAL_ADDRESS ?? `127.0.0.1:${process.env.WH_TEMPORAL_PORT ?? "7322"}`;
  const cliInTools = join(process.env.WH_TOOLS_BIN ?? "", "temporal");
  const cli = process.env.WH_TOOLS_BIN && existsSync(cliInTools) ? cliInTools : "temporal";
  const temporal = await connectTemporal({ temporal_address: address, namespace: "default" });
  const stamp = Date.now().toString(36);
  const taskQueue = `replay-record-${stamp}`;
  const byPlan = new Map(SCENARIOS.map((s) => [`plan-${s.type}-${stamp}`, s]));
  const worker = await Worker.create({
    connection: temporal.workerConnection,
    namespace: "default",
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: standInActivities(byPlan),
  });
  const running = worker.run();
  try {
    for (const [planId, scenario] of byPlan) {
      const workflowId = `replay-${scenario.type}-${stamp}`;
      const input: ExecutePlanInput = {
        execution_id: workflowId,
        plan_id: planId,
        revision: 1,
        dry_run: false,
        correlation_id: planId,
        causation_id: `requested-${workflowId}`,
        verification_timeout_ms: 1500,
        tool_timeout_ms: 30_000,
        ...(scenario.type === "executePlan" ? {} : { integrations: true }),
      };
      const outcome: ExecutionOutcome = await temporal.client.workflow.execute(scenario.type, {
        workflowId,
        taskQueue,
        args: [input],
      });
      if (outcome.status !== scenario.expect) {
        throw new Error(
          `${scenario.type} ended ${outcome.status} (${outcome.reason}); the scenario expects ${scenario.expect}`,
        );
      }
      const { stdout } = await run(
        cli,
        ["workflow", "show", "--workflow-id", workflowId, "--address", address, "--output", "json"],
        {
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      const file = join(HISTORIES_DIR, `${scenario.type}.json`);
      await writeFile(file, `${JSON.stringify(JSON.parse(stdout), null, 2)}\n`);
      process.stdout.write(
        `${scenario.type}: ${outcome.status}${outcome.reason ? ` (${outcome.reason})` : ""} → ${file}\n`,
      );
    }
  } finally {
    worker.shutdown();
    await running;
    await temporal.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

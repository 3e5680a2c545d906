/**
 * A GitOps deploy "via PR" run by the orchestrator against the real Temporal dev server and real
 * NATS, with the GitHub fixture (its REST pulls API over bare repositories on disk, pushed to with
 * the real git): the template planner's plan for "deploy checkout v1.4.2 to production via PR in
 * acme/gitops", approved, runs as a GitOpsDeployWorkflow whose step is the version bump pushed as a
 * branch and proposed through CreateGitPullRequestActivity, after the approval re-check and the
 * write's authorisation on the plan, never through the tool router. No cluster is involved.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { execa } from "execa";
import type { AnyRecordedEvent, PlanStep } from "../../events/index.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import { createGithubPulls, type IntegrationClients } from "../../lib/integrations/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { createPlanner } from "../../lib/planner/index.ts";
import { createCapabilityMinter, generateCapabilityKeys, loadCatalog } from "../../lib/tools/index.ts";
import { type GithubFixture, startGithubFixture } from "../../test/fixtures/github/server.ts";
import {
  connectTemporal,
  connectTestNats,
  createTestEventStore,
  type TestEventStore,
  type TestTemporal,
  uniqueName,
} from "../../test/support/index.ts";
import { approvalEvent, BOB, executionRequested, seededPlan, waitForEnd } from "../../test/support/orchestrator.ts";
import { createActivities } from "./activities.ts";
import { createExecutionStarter, type ExecutionStarter } from "./starter.ts";
import { createToolClient } from "./tool-client.ts";
import { type ExecutionWorker, routeTemporalLogs, startExecutionWorker, workflowBundle } from "./worker.ts";

const catalog = loadCatalog();
const logger = createLogger({ service: "orchestrator-pr-test", level: "warn", format: "json" });
const INTENT = "deploy checkout v1.4.2 to production via PR in acme/gitops";
const BRANCH = "wheelhouse/checkout-production-v1.4.2";
const VERSION_FILE = "apps/checkout/production/version.yaml";

describe("GitOps deploy via PR (Temporal + NATS + GitHub fixture + git)", { timeout: 120_000 }, () => {
  let nc: NatsConnection;
  let temporal: TestTemporal;
  let events: TestEventStore;
  let root: string;
  let github: GithubFixture;
  const workers: ExecutionWorker[] = [];
  const starters: ExecutionStarter[] = [];

  before(async () => {
    routeTemporalLogs(logger);
    nc = await connectTestNats();
    temporal = await connectTemporal();
    events = await createTestEventStore("orch_pr", { nc, logger });
    root = await mkdtemp(join(tmpdir(), "wh-orch-pr-"));
    github = await startGithubFixture({ root });
    await workflowBundle();
  });
  after(async () => {
    for (const s of starters) await s.stop();
    for (const w of workers) await w.stop();
    await github?.close();
    if (root) await rm(root, { recursive: true, force: true });
    await events?.teardown();
    await temporal?.close();
    await nc?.drain();
  });

  /** A repository of its own (the branch name is the plan's), holding the version now deployed. */
  async function repository(): Promise<{ repo: string; gitDir: string }> {
    const repo = `acme/${uniqueName("gitops")}`;
    const gitDir = await github.createRepository(repo, { [VERSION_FILE]: "version: v1.4.1\n" });
    return { repo, gitDir };
  }

  /** The template planner's steps for INTENT, aimed at `repo`. */
  async function plannedSteps(repo: string): Promise<PlanStep[]> {
    const { plan } = await createPlanner({ catalog }).plan({
      intent: INTENT.replace("acme/gitops", repo),
      source: "api",
      context: { services: [{ name: "checkout", environment: "production", namespace: "shop" }] },
    });
    return [...plan.steps];
  }

  /**
   * A worker (GitHub on, or off) and a starter on a task queue of their own; no tool router is
   * needed. An earlier test's starter is stopped first, so that no execution starts on its queue.
   */
  async function orchestrator(githubOn = true): Promise<void> {
    for (const s of starters.splice(0)) await s.stop();
    const taskQueue = uniqueName("orch-pr");
    const clients: IntegrationClients = {
      grafana: null,
      pagerduty: null,
      linear: null,
      github: githubOn
        ? {
            pulls: createGithubPulls({ apiBase: github.apiBase, token: github.token }),
            cloneUrl: (repo) => `${github.gitBase}/${repo}.git`,
            token: github.token,
            author: { name: "Wheelhouse", email: "wheelhouse@example.test" },
          }
        : null,
    };
    workers.push(
      await startExecutionWorker({
        connection: temporal.workerConnection,
        namespace: "default",
        taskQueue,
        logger,
        shutdownGraceMs: 100,
        activities: createActivities({
          store: events.store,
          // Nothing here is a tool call: a router that is not there shows it.
          tools: createToolClient({ url: "http://127.0.0.1:9" }),
          catalog,
          logger,
          capabilities: createCapabilityMinter({ signingKey: generateCapabilityKeys().signingKey }),
          integrations: { clients },
        }),
      }),
    );
    const starter = createExecutionStarter({
      store: events.store,
      client: temporal.client,
      taskQueue,
      logger,
      verificationTimeoutMs: 2000,
      toolTimeoutMs: 30_000,
      backoffMs: [200],
      durable: uniqueName("orch-pr"),
    });
    await starter.start();
    starters.push(starter);
  }

  const reasonOf = (event: AnyRecordedEvent | undefined) =>
    (event?.payload as { reason?: string } | undefined)?.reason ?? "";
  const ofType = <T extends AnyRecordedEvent["type"]>(all: readonly AnyRecordedEvent[], type: T) =>
    all.filter((e): e is Extract<AnyRecordedEvent, { type: T }> => e.type === type);
  const branchHead = async (gitDir: string) =>
    (
      await execa("git", ["--git-dir", gitDir, "rev-parse", "--verify", "--quiet", `refs/heads/${BRANCH}`], {
        reject: false,
      })
    ).stdout.trim();

  it("pushes the version bump as a branch and opens the pull request through CreateGitPullRequestActivity after the approval re-check", async () => {
    await orchestrator();
    const { repo, gitDir } = await repository();
    const steps = await plannedSteps(repo);
    assert.deepEqual(
      steps.map((s) => s.action_id),
      ["git.pull_request"],
    );
    const planned = steps[0]?.input as { files: { path: string; content: string }[]; title: string };
    const plan = seededPlan({ steps });
    await events.store.append(plan.events);
    const { executionId, event } = executionRequested(plan.planId);
    await events.store.append([event]);
    const all = await waitForEnd(events.store, executionId);

    const ended = all.at(-1);
    assert.equal(ended?.type, "execution.succeeded", JSON.stringify(ended?.payload));
    assert.equal(ofType(all, "execution.started")[0]?.payload.workflow_type, "GitOpsDeployWorkflow");

    // The branch holds the plan's file on top of main; main is untouched.
    assert.ok(await branchHead(gitDir), "the branch was pushed");
    const show = (ref: string) => execa("git", ["--git-dir", gitDir, "show", `${ref}:${VERSION_FILE}`]);
    assert.equal(`${(await show(`refs/heads/${BRANCH}`)).stdout}\n`, planned.files[0]?.content);
    assert.match((await show(`refs/heads/${BRANCH}`)).stdout, /^version: v1\.4\.2$/m);
    assert.equal((await show("main")).stdout, "version: v1.4.1");
    const parent = await execa("git", ["--git-dir", gitDir, "rev-parse", `refs/heads/${BRANCH}^`, "main"]);
    const [branchParent, main] = parent.stdout.split("\n");
    assert.equal(branchParent, main, "one commit on top of main");

    // What GitHub received: one pull request from the branch into main, marked as this step's.
    const posts = github.pullCreations().filter((r) => r.pathname === `/repos/${repo}/pulls`);
    assert.equal(posts.length, 1);
    assert.equal(posts[0]?.headers.authorization, `Bearer ${github.token}`);
    const body = posts[0]?.json as Record<string, string>;
    assert.equal(body.head, BRANCH);
    assert.equal(body.base, "main");
    assert.equal(body.title, planned.title);
    assert.ok(body.body?.includes(`<!-- wheelhouse execution=${executionId} step=s1 -->`));
    const url = `https://github.com/${repo}/pull/1`;

    // Recorded: the step's completion names the pull request, and so does execution.notified (github).
    const completed = ofType(all, "execution.step_completed").find((e) => e.payload.step_id === "s1");
    assert.equal(completed?.payload.status, "succeeded");
    assert.equal(completed?.payload.action_id, "git.pull_request");
    assert.match(
      completed?.payload.detail ?? "",
      new RegExp(`pull request #1 \\(${BRANCH} into main\\) opened: ${url}`),
    );
    const notified = ofType(all, "execution.notified");
    assert.deepEqual(
      notified.map((e) => [e.payload.channel, e.payload.phase, e.payload.ref]),
      [["github", "s1", url]],
    );

    // Authorised as the plan's write, once, before the push; re-checked first, and no tool call made.
    const authorised = ofType(await events.store.readAggregate("plan", plan.planId), "plan.write_authorized");
    assert.deepEqual(
      authorised.map((e) => [e.payload.execution_id, e.payload.step_id, e.payload.action_id]),
      [[executionId, "s1", "git.pull_request"]],
    );
    assert.equal(all.filter((e) => e.type.startsWith("tool_call.")).length, 0, "nothing went to the tool router");
    const history = await temporal.client.workflow.getHandle(executionId).fetchHistory();
    // Activities in history order: scheduled on the task queue, or run locally (a marker naming its type).
    const scheduled = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? localActivityType(e))
      .filter((name): name is string => typeof name === "string");
    const recheck = scheduled.indexOf("checkApproval");
    assert.ok(recheck >= 0, `the approval is re-checked: ${scheduled.join(", ")}`);
    assert.deepEqual(
      scheduled.filter((n) => n === "CreateGitPullRequestActivity" || n === "runTool"),
      ["CreateGitPullRequestActivity"],
    );
    assert.ok(recheck < scheduled.indexOf("CreateGitPullRequestActivity"), "re-checked before the pull request");
  });

  it("an approval withdrawn before the execution: the step is refused, nothing pushed, no pull request", async () => {
    await orchestrator();
    const { repo, gitDir } = await repository();
    const steps = await plannedSteps(repo);
    const plan = seededPlan({ steps });
    await events.store.append([
      ...plan.events,
      approvalEvent("approval.denied", plan.planId, BOB, planRevisionDigest(steps)),
    ]);
    const { executionId, event } = executionRequested(plan.planId);
    await events.store.append([event]);
    const all = await waitForEnd(events.store, executionId);

    const ended = all.at(-1);
    assert.equal(ended?.type, "execution.failed");
    assert.match(reasonOf(ended), /^step s1: bob denied revision 1/);
    assert.equal(await branchHead(gitDir), "", "no branch pushed");
    assert.equal(github.pullCreations().filter((r) => r.pathname === `/repos/${repo}/pulls`).length, 0);
    assert.deepEqual(ofType(all, "execution.notified"), []);
    assert.deepEqual(ofType(await events.store.readAggregate("plan", plan.planId), "plan.write_authorized"), []);
  });

  it("without GitHub configured the step fails naming the setting, and nothing is pushed", async () => {
    await orchestrator(false);
    const { repo, gitDir } = await repository();
    const plan = seededPlan({ steps: await plannedSteps(repo) });
    await events.store.append(plan.events);
    const { executionId, event } = executionRequested(plan.planId);
    await events.store.append([event]);
    const all = await waitForEnd(events.store, executionId);

    const ended = all.at(-1);
    assert.equal(ended?.type, "execution.failed");
    assert.match(
      reasonOf(ended),
      /step s1 refused: no pull request opened in .*: GitHub is not configured \(set connectors\.github\.token\)/,
    );
    assert.equal(await branchHead(gitDir), "");
  });
});

/** The activity type a local activity's marker records, if `event` is one. */
function localActivityType(event: {
  markerRecordedEventAttributes?: {
    markerName?: string | null;
    details?: { [key: string]: { payloads?: { data?: Uint8Array | null }[] | null } } | null;
  } | null;
}): string | undefined {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== "core_local_activity") return undefined;
  const data = marker.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  return (JSON.parse(Buffer.from(data).toString("utf8")) as { activity_type?: string }).activity_type;
}

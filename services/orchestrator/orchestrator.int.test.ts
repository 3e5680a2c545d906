/**
 * The orchestrator against the real Temporal dev server, real NATS, and a
 * real tool router (in process) running the real kubectl against the local
 * cluster (test/support/orchestrator.ts). Each test has its own event store
 * prefix, task queue, execution ids and Kubernetes namespace.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { ApplicationFailure } from "@temporalio/activity";
import { Client, Connection } from "@temporalio/client";
import { decodeJwt } from "jose";
import { type AnyRecordedEvent, newEvent, type PlanStep } from "../../events/index.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { loadCatalog, toolInputSha256 } from "../../lib/tools/index.ts";
import {
  connectTemporal,
  connectTestNats,
  kubeGet,
  recordedArgv,
  type TestTemporal,
  uniqueName,
  waitFor,
  withDeadline,
} from "../../test/support/index.ts";
import {
  ALICE,
  BOB,
  CAROL,
  createHarness,
  executionRequested,
  type Harness,
  type SeedOptions,
  seedPlan,
  typesOf,
  VERIFICATION_TIMEOUT_MS,
  waitForEnd,
} from "../../test/support/orchestrator.ts";
import type { RunToolInput } from "./activities.ts";
import { createExecutionStarter } from "./starter.ts";
import type { ToolClient } from "./tool-client.ts";
import { routeTemporalLogs, workflowBundle } from "./worker.ts";
import { cancelSignal, type ExecutionStatus, statusQuery } from "./workflows/execute-plan.ts";

const catalog = loadCatalog();
const logger = createLogger({ service: "orchestrator-test", level: "warn", format: "json" });

/** The plan's steps, aimed at a namespace of the test's own where a Deployment "checkout" runs 2 replicas. */
function stepsIn(namespace: string) {
  const deployment = { kind: "deployment", name: "checkout", namespace };
  const target = { environment: "staging", service: "checkout", namespace };
  const scaleStep: PlanStep = {
    step_id: "s1",
    action_id: "kubectl.scale",
    input: { ...deployment, replicas: 4 },
    target,
    rationale: "more capacity for the sale",
    verification: {
      description: "checkout deployment reads back",
      action_id: "kubectl.get",
      input: { ...deployment, output: "json" },
    },
    rollback: { action_id: "kubectl.scale", input: { ...deployment, replicas: 2 } },
  };
  const annotateStep: PlanStep = {
    step_id: "s2",
    action_id: "kubectl.annotate",
    input: { ...deployment, annotations: { "wheelhouse.dev/change": "sale" } },
    target,
    rationale: "mark the change",
    rollback: {
      action_id: "kubectl.annotate",
      input: { ...deployment, annotations: { "wheelhouse.dev/change": "none" } },
    },
  };
  /** A Deployment that does not exist: kubectl describe exits 1 ("not found"), so this read step fails. */
  const absent = { ...deployment, name: "absent" };
  const failingReadStep: PlanStep = {
    step_id: "s3",
    action_id: "kubectl.describe",
    input: absent,
    target,
    rationale: "look at the result",
  };
  return { deployment, absent, scaleStep, annotateStep, failingReadStep };
}

// Each test builds its own namespace, router and worker, and waits on real kubectl: a loaded two-core
// machine takes up to half a minute for one, so the suite gets ten minutes.
describe("orchestrator (Temporal + NATS + tool router)", { timeout: 600_000 }, () => {
  let nc: NatsConnection;
  let temporal: TestTemporal;
  let client: Client;

  before(async () => {
    routeTemporalLogs(logger);
    nc = await connectTestNats();
    temporal = await connectTemporal();
    client = temporal.client;
    await workflowBundle();
  });
  after(async () => {
    await temporal.close();
    await nc.drain();
  });

  /** The harness with the plan steps of this file, aimed at its namespace. */
  type EngineHarness = Harness & { readonly steps: ReturnType<typeof stepsIn> };

  /** Runs `test` on a fresh harness (store, namespace, router, task queue), closed after it. */
  async function withHarness(test: (h: EngineHarness) => Promise<void>): Promise<void> {
    const h = await createHarness({ nc, temporal, catalog, logger, label: "orch" });
    try {
      await test({ ...h, steps: stepsIn(h.namespace) });
    } finally {
      await h.close();
    }
  }

  /** Seeds the plan and appends its execution's `execution.requested` (revision 1, by alice). */
  async function requestExecution(h: Harness, seed: SeedOptions) {
    const planId = await seedPlan(h.store, seed);
    const { executionId, event } = executionRequested(planId);
    await h.store.append([event]);
    return { planId, executionId, event };
  }

  /** The execution's events once it has ended; a loaded machine may take over a minute. */
  const ended = (h: Harness, executionId: string) => waitForEnd(h.store, executionId, 90_000);

  /** With a worker and a starter running: the plan seeded, its execution requested, and its events once it ended. */
  async function runPlan(h: Harness, seed: SeedOptions) {
    await h.startWorker();
    await h.startStarter();
    const requested = await requestExecution(h, seed);
    return { ...requested, events: await ended(h, requested.executionId) };
  }

  /** The test's Deployment as the cluster has it. */
  const checkoutIn = (namespace: string) => kubeGet("deployment/checkout", `--namespace=${namespace}`);

  const executionTypes = (events: readonly AnyRecordedEvent[]) => typesOf(events, "execution.");
  const toolCalls = (events: readonly AnyRecordedEvent[], type: "tool_call.started" | "tool_call.completed") =>
    events.filter((e) => e.type === type).map((e) => (e.payload as { tool_call_id: string }).tool_call_id);

  it("runs an approved plan: dry run, write, verification, in order, with the tool calls recorded", () =>
    withHarness(async (h) => {
      const { scaleStep } = h.steps;
      const { planId, executionId, event, events } = await runPlan(h, { steps: [scaleStep], dryRunFirst: ["s1"] });
      assert.deepEqual(executionTypes(events), [
        "execution.requested",
        "execution.started",
        "execution.step_started",
        "execution.step_completed",
        "execution.measured",
        "execution.verified",
        "execution.succeeded",
      ]);
      const started = events.find((e) => e.type === "execution.started");
      assert.equal(started?.type === "execution.started" && started.payload.workflow_id, executionId);
      // A kubectl scale from the API is a scale-service change: that workflow type ran it, by name.
      assert.equal(started?.type === "execution.started" && started.payload.workflow_type, "ScaleServiceWorkflow");
      const handle = client.workflow.getHandle(executionId);
      assert.equal((await handle.describe()).type, "ScaleServiceWorkflow");
      // The dry run and the write as kubectl.scale's own activity, the verification read as runTool.
      const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
      );
      assert.deepEqual(
        scheduled.filter((name) => name === "runTool" || name.endsWith("Activity")),
        ["KubectlScaleActivity", "KubectlScaleActivity", "runTool"],
      );
      assert.equal(started?.causation_id, event.id);
      assert.equal(started?.correlation_id, planId);
      const completed = events.find((e) => e.type === "execution.step_completed");
      assert.equal(completed?.type === "execution.step_completed" && completed.payload.status, "succeeded");
      assert.equal(
        completed?.type === "execution.step_completed" && completed.payload.tool_call_id,
        `${executionId}-s1`,
      );

      // The tool router recorded each call on the execution: dry run, the write, the verification read.
      assert.deepEqual(toolCalls(events, "tool_call.completed"), [
        `${executionId}-s1-dry-run`,
        `${executionId}-s1`,
        `${executionId}-s1-verify-1`,
      ]);
      const argv = recordedArgv(h.argvLog);
      const ns = `--namespace=${h.namespace}`;
      assert.deepEqual(argv, [
        ["kubectl", "scale", "deployment/checkout", "--replicas=4", ns, "--dry-run=server"],
        ["kubectl", "scale", "deployment/checkout", "--replicas=4", ns],
        ["kubectl", "get", "deployment", "checkout", "--output=json", ns],
      ]);
      assert.equal((await checkoutIn(h.namespace))?.spec.replicas, 4, "the cluster's Deployment was scaled");
      // The dry run and the write sit inside the step's started/completed pair.
      const seqOf = (pred: (e: AnyRecordedEvent) => boolean) => events.find(pred)?.seq ?? -1;
      const stepStarted = seqOf((e) => e.type === "execution.step_started");
      const realCall = seqOf((e) => e.type === "tool_call.completed" && e.payload.tool_call_id === `${executionId}-s1`);
      assert.ok(stepStarted < realCall && realCall < (completed?.seq ?? -1));

      const status = await client.workflow.getHandle(executionId).query(statusQuery);
      assert.equal(status.phase, "succeeded");
      assert.deepEqual(status.completed_steps, ["s1"]);
    }));

  it("starts one workflow when the same execution.requested is delivered twice", () =>
    withHarness(async (h) => {
      const { scaleStep } = h.steps;
      await h.startWorker();
      const starter = await h.startStarter();
      const { executionId, event } = await requestExecution(h, { steps: [scaleStep] });
      // The same event twice on the stream: the consumer sees two deliveries.
      await h.store.append([event]);
      const events = await ended(h, executionId);
      const stored = events.find((e) => e.type === "execution.requested");
      assert.ok(stored?.type === "execution.requested");
      // A late redelivery, after the workflow has ended, starts nothing either.
      const result = await client.workflow.getHandle(executionId).result();
      assert.equal(result.status, "succeeded");
      assert.equal(await starter.startExecution(stored), "finished");

      const after = await h.store.readAggregate("execution", executionId);
      assert.deepEqual(executionTypes(after), [
        "execution.requested",
        "execution.requested",
        "execution.started",
        "execution.step_started",
        "execution.step_completed",
        "execution.measured",
        "execution.verified",
        "execution.succeeded",
      ]);
      const writes = recordedArgv(h.argvLog).filter((a) => a[1] === "scale");
      assert.equal(writes.length, 1, "the write ran once");
      const runs = [];
      for await (const run of client.workflow.list({ query: `WorkflowId = '${executionId}'` })) runs.push(run.runId);
      assert.equal(runs.length, 1, "one workflow run");

      // A recreated consumer delivers the request again once Temporal has forgotten the run (past its
      // retention): the execution's own events say it ran, so nothing starts. This starter's Temporal is
      // nowhere (a lazy connection to a closed port): the answer comes from the events alone.
      const nowhere = new Client({ connection: Connection.lazy({ address: "127.0.0.1:9", connectTimeout: "1s" }) });
      const forgetful = createExecutionStarter({
        store: h.store,
        client: nowhere,
        taskQueue: "nowhere",
        logger,
        verificationTimeoutMs: 1_000,
        toolTimeoutMs: 1_000,
      });
      assert.equal(await forgetful.startExecution(stored), "finished");
      assert.equal(recordedArgv(h.argvLog).filter((a) => a[1] === "scale").length, 1, "the write still ran once");
    }));

  it("refuses the write when the approval was withdrawn: nothing runs, execution.failed says why", () =>
    withHarness(async (h) => {
      const { scaleStep } = h.steps;
      const { events } = await runPlan(h, { steps: [scaleStep], approvals: [BOB], denials: [CAROL] });
      assert.deepEqual(executionTypes(events), ["execution.requested", "execution.started", "execution.failed"]);
      const failed = events.at(-1);
      assert.ok(failed?.type === "execution.failed");
      assert.match(failed.payload.reason ?? "", /step s1: carol denied revision 1/);
      assert.deepEqual(toolCalls(events, "tool_call.started"), [], "no tool call was made");
      assert.deepEqual(recordedArgv(h.argvLog), [], "no CLI ran");
    }));

  it("rolls back completed writes in reverse order when a later step fails", () =>
    withHarness(async (h) => {
      const { scaleStep, annotateStep, failingReadStep } = h.steps;
      const { events } = await runPlan(h, { steps: [scaleStep, annotateStep, failingReadStep] });
      assert.deepEqual(executionTypes(events), [
        "execution.requested",
        "execution.started",
        "execution.step_started",
        "execution.step_completed",
        "execution.step_started",
        "execution.step_completed",
        "execution.step_started",
        "execution.step_completed",
        "execution.rollback_started",
        "execution.rolled_back",
        "execution.failed",
      ]);
      const stepResults = events
        .filter((e) => e.type === "execution.step_completed")
        .map((e) => (e.type === "execution.step_completed" ? `${e.payload.step_id}:${e.payload.status}` : ""));
      assert.deepEqual(stepResults, ["s1:succeeded", "s2:succeeded", "s3:failed"]);
      const rollbackStarted = events.find((e) => e.type === "execution.rollback_started");
      assert.ok(rollbackStarted?.type === "execution.rollback_started");
      assert.deepEqual(rollbackStarted.payload.step_ids, ["s2", "s1"]);
      assert.match(rollbackStarted.payload.reason, /step s3 failed \(exit 1\)/);
      const rolledBack = events.find((e) => e.type === "execution.rolled_back");
      assert.ok(rolledBack?.type === "execution.rolled_back");
      assert.deepEqual(rolledBack.payload.step_ids, ["s2", "s1"]);
      const failed = events.at(-1);
      assert.ok(failed?.type === "execution.failed");
      assert.match(failed.payload.reason ?? "", /s3.*rolled back s2, s1/);

      assert.deepEqual(
        recordedArgv(h.argvLog).map(
          (a) => a.slice(0, 2).join(" ") + (a.find((x) => x.startsWith("--replicas=")) ?? ""),
        ),
        [
          "kubectl scale--replicas=4",
          "kubectl annotate",
          "kubectl describe",
          "kubectl annotate",
          "kubectl scale--replicas=2",
        ],
      );
      assert.ok(
        recordedArgv(h.argvLog)[3]?.includes("wheelhouse.dev/change=none"),
        "s2's rollback restored the annotation",
      );
      const live = await checkoutIn(h.namespace);
      assert.equal(live?.spec.replicas, 2, "s1's rollback scaled the cluster's Deployment back");
      assert.equal(live?.metadata.annotations?.["wheelhouse.dev/change"], "none", "s2's rollback re-annotated it");
    }));

  it("rolls back when verification keeps failing until its deadline", () =>
    withHarness(async (h) => {
      const { absent, scaleStep } = h.steps;
      // Describes a Deployment that does not exist: every read fails ("not found").
      const verifiedByDescribe: PlanStep = {
        ...scaleStep,
        verification: { description: "describe reads back", action_id: "kubectl.describe", input: absent },
      };
      const { executionId, events } = await runPlan(h, { steps: [verifiedByDescribe] });
      // One execution.measured per read (how many fit before the deadline is checked below).
      assert.deepEqual(
        executionTypes(events).filter((t) => t !== "execution.measured"),
        [
          "execution.requested",
          "execution.started",
          "execution.step_started",
          "execution.step_completed",
          "execution.verification_failed",
          "execution.rollback_started",
          "execution.rolled_back",
          "execution.failed",
        ],
      );
      const verification = events.find((e) => e.type === "execution.verification_failed");
      assert.ok(verification?.type === "execution.verification_failed");
      assert.equal(verification.payload.checks.length, 1);
      assert.equal(verification.payload.checks[0]?.passed, false);
      assert.match(verification.payload.checks[0]?.detail ?? "", /s1: kubectl.describe failed/);
      // Verification re-read until its deadline before giving up. How many reads fit before it depends on
      // the machine's speed; what does not: every attempt the verdict counts is a recorded read that failed,
      // in order, and the verdict came only once the deadline had passed.
      const failed = events.at(-1);
      assert.ok(failed?.type === "execution.failed");
      assert.match(failed.payload.reason ?? "", /verification failed after \d+ attempt\(s\).*rolled back s1/);
      const attempts = Number(/after (\d+) attempt/.exec(failed.payload.reason ?? "")?.[1]);
      const verifyReads = events.filter(
        (e) => e.type === "tool_call.completed" && e.payload.tool_call_id.includes("-verify-"),
      );
      assert.deepEqual(
        verifyReads.map((e) =>
          e.type === "tool_call.completed" ? `${e.payload.tool_call_id}:${e.payload.status}` : "",
        ),
        Array.from({ length: attempts }, (_, i) => `${executionId}-s1-verify-${i + 1}:failed`),
      );
      // Each read is a measurement, recorded in order, every one a failure, all before the verdict.
      const measured = events.filter((e) => e.type === "execution.measured");
      assert.deepEqual(
        measured.map((e) => (e.type === "execution.measured" ? `${e.payload.attempt}:${e.payload.outcome}` : "")),
        Array.from({ length: attempts }, (_, i) => `${i + 1}:fail`),
      );
      assert.ok(measured.every((e) => e.seq < verification.seq));
      // The deadline starts after the step completed (workflow time is at least the completion's time).
      const stepDone = events.find((e) => e.type === "execution.step_completed");
      assert.ok(stepDone);
      const waitedMs = Date.parse(verification.occurred_at) - Date.parse(stepDone.occurred_at);
      assert.ok(
        waitedMs >= VERIFICATION_TIMEOUT_MS,
        `the verdict came ${waitedMs} ms after the step, before the ${VERIFICATION_TIMEOUT_MS} ms deadline`,
      );
      assert.deepEqual(
        recordedArgv(h.argvLog)
          .filter((a) => a[1] === "scale")
          .map((a) => a[3]),
        ["--replicas=4", "--replicas=2"],
      );
      assert.equal((await checkoutIn(h.namespace))?.spec.replicas, 2, "the cluster's Deployment was scaled back");
    }));

  it("a dry-run execution previews every write and changes nothing", () =>
    withHarness(async (h) => {
      const { scaleStep } = h.steps;
      await h.startWorker();
      await h.startStarter();
      const planId = await seedPlan(h.store, { steps: [scaleStep] });
      const executionId = uniqueName("ex");
      await h.store.append([
        newEvent(
          "execution.requested",
          executionId,
          { execution_id: executionId, plan_id: planId, revision: 1, dry_run: true },
          { actor: ALICE, correlation_id: planId },
        ),
      ]);
      const events = await ended(h, executionId);
      assert.deepEqual(executionTypes(events), [
        "execution.requested",
        "execution.started",
        "execution.step_started",
        "execution.step_completed",
        "execution.succeeded",
      ]);
      assert.deepEqual(recordedArgv(h.argvLog), [
        ["kubectl", "scale", "deployment/checkout", "--replicas=4", `--namespace=${h.namespace}`, "--dry-run=server"],
      ]);
      assert.equal((await checkoutIn(h.namespace))?.spec.replicas, 2, "the cluster's Deployment is as it was");
    }));

  it("survives a worker that goes away mid-step: a new worker finishes without repeating the completed step", () =>
    withHarness(async (h) => {
      const { scaleStep, annotateStep } = h.steps;
      const hold = holdCall(h.tools, (id) => id.endsWith("-s2"));
      const first = await h.startWorker({ tools: hold.client, shutdownGraceMs: 100 });
      await h.startStarter();
      const { executionId } = await requestExecution(h, {
        steps: [{ ...scaleStep, verification: undefined }, annotateStep],
      });

      await withDeadline("the first worker to reach step s2's tool call", hold.reached, 30_000);
      const status: ExecutionStatus = await client.workflow.getHandle(executionId).query(statusQuery);
      assert.equal(status.current_step, "s2");
      assert.deepEqual(status.completed_steps, ["s1"]);
      await first.stop();
      assert.equal(first.worker.getState(), "STOPPED");

      await h.startWorker();
      const events = await ended(h, executionId);
      assert.equal(events.at(-1)?.type, "execution.succeeded");
      const count = (type: string, step: string) =>
        events.filter((e) => e.type === type && (e.payload as { step_id?: string }).step_id === step).length;
      assert.equal(count("execution.step_started", "s1"), 1);
      assert.equal(count("execution.step_completed", "s1"), 1);
      assert.equal(count("execution.step_started", "s2"), 1);
      assert.equal(count("execution.step_completed", "s2"), 1);
      assert.deepEqual(
        recordedArgv(h.argvLog).map((a) => a[1]),
        ["scale", "annotate"],
        "s1 ran once (before the worker went away), s2 once (on the new worker)",
      );
    }));

  it("signs a capability only for a call the approved plan revision names; anything else never reaches the router", () =>
    withHarness(async (h) => {
      const { deployment, scaleStep } = h.steps;
      const planId = await seedPlan(h.store, { steps: [scaleStep] });
      const denied = await seedPlan(h.store, { steps: [scaleStep], approvals: [BOB], denials: [CAROL] });
      const olderDigest = await seedPlan(h.store, { steps: [scaleStep], approvedDigest: planRevisionDigest([]) });
      const sent: string[] = [];
      const spy: ToolClient = {
        executeTool: (request, options) => {
          sent.push(options.capability);
          return h.tools.executeTool(request, options);
        },
        getResource: (request, options) => h.tools.getResource(request, options),
      };
      const activities = h.activities({ tools: spy });
      const executionId = uniqueName("ex");
      const call: RunToolInput = {
        execution_id: executionId,
        step_id: "s1",
        tool_call_id: `${executionId}-s1`,
        action_id: "kubectl.scale",
        input: scaleStep.input,
        dry_run: false,
        purpose: "step",
        plan: { plan_id: planId, revision: 1 },
      };
      const { plan: _plan, ...withoutPlan } = call;
      const table: { name: string; input: RunToolInput; type: string }[] = [
        { name: "input changed", input: { ...call, input: { ...deployment, replicas: 0 } }, type: "ToolCallRefused" },
        {
          name: "another action",
          input: { ...call, action_id: "kubectl.rollout_restart", input: deployment },
          type: "ToolCallRefused",
        },
        { name: "a step the plan lacks", input: { ...call, step_id: "s9" }, type: "ToolCallRefused" },
        {
          name: "a verification read of something else",
          input: { ...call, purpose: "verification", action_id: "kubectl.get", input: { ...deployment, name: "cart" } },
          type: "ToolCallRefused",
        },
        { name: "a rollback with the write's input", input: { ...call, purpose: "rollback" }, type: "ToolCallRefused" },
        { name: "a dry run that is not one", input: { ...call, purpose: "dry_run" }, type: "ToolCallRefused" },
        { name: "no plan named", input: withoutPlan, type: "ToolCallRefused" },
        {
          name: "a plan that does not exist",
          input: { ...call, plan: { plan_id: "nope", revision: 1 } },
          type: "PlanNotFound",
        },
        // The write is re-checked against the approval even when the workflow passed none.
        {
          name: "a withdrawn approval",
          input: { ...call, plan: { plan_id: denied, revision: 1 } },
          type: "ApprovalRefused",
        },
        {
          name: "approvals given for another digest than the revision's",
          input: { ...call, plan: { plan_id: olderDigest, revision: 1 } },
          type: "ApprovalRefused",
        },
      ];
      for (const row of table) {
        await assert.rejects(
          activities.runTool(row.input),
          (e: unknown) => e instanceof ApplicationFailure && e.type === row.type && e.nonRetryable === true,
          row.name,
        );
      }
      assert.equal(sent.length, 0, "no capability was signed, no call reached the router");
      assert.deepEqual(recordedArgv(h.argvLog), [], "no CLI ran");

      const result = await activities.runTool(call);
      assert.equal(result.status, "succeeded");
      assert.equal(sent.length, 1);
      const claims = decodeJwt(sent[0] as string);
      assert.equal(claims.purpose, "execute");
      assert.equal(claims.plan_id, planId);
      assert.equal(claims.plan_digest, planRevisionDigest([scaleStep]));
      assert.equal(claims.input_sha256, toolInputSha256(scaleStep.input));
      assert.equal(claims.tool_call_id, `${executionId}-s1`);
      assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 60, "the tool timeout (30 s) plus a 30 s margin");
      // The router takes a capability once: replaying the one just used is refused, and nothing runs.
      await assert.rejects(h.tools.executeTool(call, { capability: sent[0] as string }), /already used/);
      assert.equal(recordedArgv(h.argvLog).length, 1);
    }));

  it("a cancel signal stops before the next step and records execution.cancelled", () =>
    withHarness(async (h) => {
      const { scaleStep, annotateStep } = h.steps;
      const hold = holdCall(h.tools, (id) => id.endsWith("-s1"));
      await h.startWorker({ tools: hold.client });
      await h.startStarter();
      const { executionId } = await requestExecution(h, {
        steps: [{ ...scaleStep, verification: undefined }, annotateStep],
      });

      await withDeadline("step s1's tool call", hold.reached, 30_000);
      const handle = client.workflow.getHandle(executionId);
      await handle.signal(cancelSignal, { reason: "wrong cluster", requested_by: "alice" });
      await waitFor("the cancel request to be seen", async () => (await handle.query(statusQuery)).cancel_requested);
      hold.release();

      const events = await ended(h, executionId);
      const last = events.at(-1);
      assert.ok(last?.type === "execution.cancelled");
      assert.equal(last.payload.reason, "cancelled by alice: wrong cluster");
      assert.equal(events.filter((e) => e.type === "execution.step_started").length, 1, "s2 never started");
      assert.deepEqual(
        recordedArgv(h.argvLog).map((a) => a[1]),
        ["scale"],
      );
      assert.equal((await handle.query(statusQuery)).phase, "cancelled");
    }));
});

/**
 * A tool client that holds the calls `matches` picks until released (or the
 * activity is cancelled, e.g. by its worker shutting down), to stop an
 * execution at a known point.
 */
function holdCall(real: ToolClient, matches: (toolCallId: string) => boolean) {
  let reached!: () => void;
  const reachedPromise = new Promise<void>((resolve) => {
    reached = resolve;
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const client: ToolClient = {
    async executeTool(request, options) {
      if (matches(request.tool_call_id ?? "")) {
        reached();
        const signal = options?.signal;
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => reject(signal?.reason ?? new Error("aborted"));
          if (signal?.aborted) onAbort();
          signal?.addEventListener("abort", onAbort, { once: true });
          void released.then(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          });
        });
      }
      return real.executeTool(request, options);
    },
    getResource: (request, options) => real.getResource(request, options),
  };
  return { client, reached: reachedPromise, release };
}

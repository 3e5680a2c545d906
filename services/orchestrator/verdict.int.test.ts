/**
 * A person's verdict on a paused verification analysis, end to end: the real gateway (HTTP, OIDC
 * tokens, the projector) and the real orchestrator (starter, request relay, worker on the Temporal
 * dev server, tool router running kubectl on the local cluster). A scale whose analysis reads an
 * annotation the Deployment does not have stays inconclusive and, with `on_inconclusive: "pause"`,
 * pauses: the workflow reports phase `paused`, records `execution.paused`, and the read model shows
 * `paused`. `wheelhouse executions verdict … pass` (or `POST /v1/executions/{id}:verdict` fail)
 * records `execution.verdict_requested`, the relay signals the workflow, and the execution succeeds
 * (pass) or fails and is rolled back (fail). A cancel while paused ends the wait at once: the
 * execution is cancelled, unjudged and not rolled back. services/gateway/verdict.int.test.ts has the
 * route's refusals.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import type { AnyRecordedEvent, PlanStep } from "../../events/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { statusQuery } from "../../lib/orchestration/workflow.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { connectTemporal, recordedArgv, type TestTemporal, waitFor } from "../../test/support/index.ts";
import { createHarness, type Harness, seededPlan, waitForEnd } from "../../test/support/orchestrator.ts";
import { createRequestRelay, type RequestRelay } from "./relay.ts";
import type { ExecutionStarter } from "./starter.ts";
import { routeTemporalLogs, workflowBundle } from "./worker.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const catalog = loadCatalog();
const logger = createLogger({ service: "orchestrator-verdict-test", level: "warn", format: "json" });

describe("a verdict on a paused analysis (gateway + orchestrator)", { timeout: 240_000 }, () => {
  let gw: TestGateway;
  let temporal: TestTemporal;
  let h: Harness;
  let relay: RequestRelay;
  let starter: ExecutionStarter;

  before(async () => {
    routeTemporalLogs(logger);
    gw = await startTestGateway();
    temporal = await connectTemporal();
    await workflowBundle();
    h = await createHarness({ nc: gw.nc, temporal, catalog, logger, store: gw.store });
    await h.startWorker();
    relay = createRequestRelay({ store: gw.store, client: temporal.client, logger });
    await relay.start();
    starter = await h.startStarter();
  });
  after(async () => {
    await starter?.stop();
    await relay?.stop();
    await h?.close();
    await gw?.stop();
    await temporal?.close();
  });

  const post = async (path: string, token: string, body: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** The scale, verified by an annotation checkout never carries: measured once, inconclusive, paused. */
  const pausingScale = (): PlanStep => ({
    ...h.scaleStep,
    verification: {
      description: "checkout carries the canary's all-clear",
      action_id: "kubectl.get",
      input: { kind: "deployment", name: "checkout", namespace: h.namespace, output: "json" },
      analysis: {
        provider: "kubectl",
        query: ".metadata.annotations.canary-all-clear",
        success_condition: 'result == "yes"',
        count: 1,
        on_inconclusive: "pause",
        pause_timeout_seconds: 180,
      },
    },
  });

  /** A plan of alice's (the pausing scale), approved by bob, executed by alice through the API; waits for the pause. */
  async function pausedExecution() {
    const plan = seededPlan({ steps: [pausingScale()] });
    await gw.store.append(plan.events);
    const alice = await gw.token("alice", ["operator"]);
    const executed = await post(`/v1/plans/${plan.planId}:execute`, alice, { revision: 1 });
    assert.equal(executed.status, 202, JSON.stringify(executed.body));
    const executionId = String(executed.body.id);
    const handle = temporal.client.workflow.getHandle(executionId);
    await waitFor(
      "the workflow to report phase paused",
      async () => {
        const status = await handle.query(statusQuery);
        return status.phase === "paused" ? status : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    const events = await gw.store.readAggregate("execution", executionId);
    const paused = events.find((e) => e.type === "execution.paused");
    assert.ok(paused?.type === "execution.paused", "execution.paused is recorded before the workflow waits");
    assert.equal(paused.payload.step_id, "s1");
    assert.equal(paused.payload.check, "checkout carries the canary's all-clear");
    assert.equal(paused.payload.attempts, 1);
    assert.match(paused.payload.reason, /has no \.metadata\.annotations\.canary-all-clear/);
    const dueIn = Date.parse(paused.payload.deadline) - Date.parse(paused.occurred_at);
    assert.ok(dueIn > 170_000 && dueIn <= 180_000, `deadline ${paused.payload.deadline} is the pause timeout away`);
    await readModelStatus(executionId, "paused", alice);
    return { executionId, alice, handle };
  }

  /** Waits (with a deadline) until GET /v1/executions/{id} serves `status`. */
  const readModelStatus = (executionId: string, status: string, token: string) =>
    waitFor(
      `the read model to show execution ${executionId} ${status}`,
      async () => {
        const res = await fetch(`${gw.url}/v1/executions/${executionId}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return res.status === 200 && ((await res.json()) as { status: string }).status === status;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

  const verdictDetail = (
    events: readonly AnyRecordedEvent[],
    type: "execution.verified" | "execution.verification_failed",
  ) => {
    const verdict = events.find((e) => e.type === type);
    assert.ok(verdict?.type === type, `${type} is recorded`);
    return verdict.payload.checks.at(-1)?.detail ?? "";
  };

  it("pass from the CLI: the relay signals the workflow, verification passes and the execution succeeds", async () => {
    const { executionId, alice } = await pausedExecution();
    const cli = await execa(
      process.execPath,
      [
        "--import",
        "tsx",
        "services/cli/main.ts",
        "executions",
        "verdict",
        executionId,
        "pass",
        "--reason",
        "the canary is judged by hand tonight",
      ],
      { cwd: ROOT, env: { ...process.env, WHEELHOUSE_URL: gw.url, WHEELHOUSE_TOKEN: alice }, reject: false },
    );
    assert.equal(cli.exitCode, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`verdict pass on execution ${executionId} given; its verification goes on`));

    const events = await waitForEnd(gw.store, executionId, 60_000);
    const last = events.at(-1);
    assert.ok(last?.type === "execution.succeeded", `ended with ${last?.type}: ${JSON.stringify(last?.payload)}`);
    const requested = events.filter((e) => e.type === "execution.verdict_requested");
    assert.equal(requested.length, 1);
    assert.deepEqual(requested[0]?.payload, {
      execution_id: executionId,
      step_id: "s1",
      decision: "pass",
      reason: "the canary is judged by hand tonight",
      requested_by: "alice",
    });
    assert.match(
      verdictDetail(events, "execution.verified"),
      /paused, then judged pass by alice: the canary is judged by hand tonight/,
    );
    assert.ok(!events.some((e) => e.type === "execution.rollback_started"), "nothing rolled back");
    await readModelStatus(executionId, "succeeded", alice);
  });

  it("fail from the API (an admin): verification fails, the scale is rolled back, the execution fails", async () => {
    const { executionId } = await pausedExecution();
    const argvBefore = recordedArgv(h.argvLog).length;
    const carol = await gw.token("carol", ["admin"]);
    const given = await post(`/v1/executions/${executionId}:verdict`, carol, {
      decision: "fail",
      reason: "no all-clear from the canary",
    });
    assert.equal(given.status, 202, JSON.stringify(given.body));

    const events = await waitForEnd(gw.store, executionId, 90_000);
    const last = events.at(-1);
    assert.ok(last?.type === "execution.failed", `ended with ${last?.type}`);
    assert.match(last.payload.reason ?? "", /paused, then judged fail by carol: no all-clear from the canary/);
    assert.match(verdictDetail(events, "execution.verification_failed"), /judged fail by carol/);
    const rolledBack = events.find((e) => e.type === "execution.rolled_back");
    assert.ok(rolledBack?.type === "execution.rolled_back", "the scale is rolled back");
    assert.deepEqual(rolledBack.payload.step_ids, ["s1"]);
    // The rollback's scale back to 2 replicas ran after the verdict.
    const after = recordedArgv(h.argvLog).slice(argvBefore);
    assert.ok(
      after.some(
        (argv) => argv[1] === "scale" && argv.includes("--replicas=2") && !argv.some((a) => a.startsWith("--dry-run")),
      ),
      `a scale back to 2 replicas: ${JSON.stringify(after)}`,
    );
    await readModelStatus(executionId, "failed", carol);
  });

  it("a cancel while paused ends the wait at once: cancelled with its reason, no verdict, nothing rolled back", async () => {
    const { executionId, alice } = await pausedExecution();
    const argvBefore = recordedArgv(h.argvLog).length;
    const cancelledAt = Date.now();
    const asked = await post(`/v1/executions/${executionId}:cancel`, alice, { reason: "the canary is retired" });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));

    // The pause's deadline is 180 s away; only the cancel can end it within this wait.
    const events = await waitForEnd(gw.store, executionId, 60_000);
    const tookMs = Date.now() - cancelledAt;
    assert.ok(tookMs < 60_000, `ended ${tookMs} ms after the cancel`);
    const last = events.at(-1);
    assert.ok(last?.type === "execution.cancelled", `ended with ${last?.type}: ${JSON.stringify(last?.payload)}`);
    assert.match(
      last.payload.reason ?? "",
      /^cancelled by alice: the canary is retired; verification stopped by a cancel after 1 measurement\(s\) of s1, while its analysis was paused for a verdict/,
    );
    assert.match(last.payload.reason ?? "", /not rolled back/);
    assert.doesNotMatch(last.payload.reason ?? "", /none came within/);
    const paused = events.find((e) => e.type === "execution.paused");
    assert.ok(paused?.type === "execution.paused");
    assert.ok(Date.parse(last.occurred_at) < Date.parse(paused.payload.deadline), "ended before the pause's deadline");
    const types = events.map((e) => e.type);
    for (const t of [
      "execution.verdict_requested",
      "execution.verified",
      "execution.verification_failed",
      "execution.rollback_started",
      "execution.rolled_back",
    ] as const) {
      assert.ok(!types.includes(t), `no ${t}: ${types.join(", ")}`);
    }
    // No tool call after the cancel: neither a measurement nor a rollback's scale back to 2 replicas.
    assert.deepEqual(recordedArgv(h.argvLog).slice(argvBefore), []);
    await readModelStatus(executionId, "cancelled", alice);
  });
});

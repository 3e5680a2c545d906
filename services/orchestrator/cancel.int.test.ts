/**
 * Cancelling an execution through the real gateway (HTTP, OIDC tokens, the projector) and the real
 * orchestrator (starter, cancel relay, worker on the Temporal dev server, tool router running
 * kubectl on the local cluster): `POST /v1/executions/{id}:cancel` and `wheelhouse executions
 * cancel` record `execution.cancel_requested`, the orchestrator signals the workflow, and the
 * workflow stops before its next step with `execution.cancelled`. Who may, and the errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import type { PlanStep } from "../../events/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { statusQuery } from "../../lib/orchestration/workflow.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { connectTemporal, recordedArgv, type TestTemporal, waitFor, withDeadline } from "../../test/support/index.ts";
import { createHarness, type Harness, seededPlan, waitForEnd } from "../../test/support/orchestrator.ts";
import { createRequestRelay, type RequestRelay } from "./relay.ts";
import type { ToolClient } from "./tool-client.ts";
import { routeTemporalLogs, workflowBundle } from "./worker.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const catalog = loadCatalog();
const logger = createLogger({ service: "orchestrator-cancel-test", level: "warn", format: "json" });

/** A client that holds the calls `matches` picks until released, to stop an execution mid-step. */
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
        await released;
      }
      return real.executeTool(request, options);
    },
    getResource: (request, options) => real.getResource(request, options),
  };
  return { client, reached: reachedPromise, release };
}

describe("cancel an execution (gateway + orchestrator)", { timeout: 180_000 }, () => {
  let gw: TestGateway;
  let temporal: TestTemporal;
  let h: Harness;
  let relay: RequestRelay;
  const hold = { current: null as ReturnType<typeof holdCall> | null };

  before(async () => {
    routeTemporalLogs(logger);
    gw = await startTestGateway();
    temporal = await connectTemporal();
    await workflowBundle();
    h = await createHarness({ nc: gw.nc, temporal, catalog, logger, store: gw.store });
    // Every s1 call is held by the test's current hold: the execution is at a known point when cancelled.
    const held: ToolClient = {
      executeTool: (request, options) => (hold.current?.client ?? h.tools).executeTool(request, options),
      getResource: (request, options) => h.tools.getResource(request, options),
    };
    await h.startWorker({ tools: held });
    relay = createRequestRelay({ store: gw.store, client: temporal.client, logger });
    await relay.start();
  });
  after(async () => {
    // A held call left behind by a failed test would keep the worker from shutting down.
    hold.current?.release();
    await relay.stop();
    await h.close();
    await gw.stop();
    await temporal.close();
  });

  const post = async (path: string, token: string, body: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get("content-type") ?? "",
      body: (await res.json()) as Record<string, unknown>,
    };
  };

  /** A plan of alice's (scale, then annotate), approved by bob, sent for execution by alice through the API. */
  async function runningExecution() {
    const steps: PlanStep[] = [
      h.scaleStep,
      {
        step_id: "s2",
        action_id: "kubectl.annotate",
        input: {
          kind: "deployment",
          name: "checkout",
          namespace: h.namespace,
          annotations: { "wheelhouse.dev/change": "sale" },
        },
        target: { environment: "staging", service: "checkout", namespace: h.namespace },
        rationale: "mark the change",
        rollback: {
          action_id: "kubectl.annotate",
          input: {
            kind: "deployment",
            name: "checkout",
            namespace: h.namespace,
            annotations: { "wheelhouse.dev/change": "none" },
          },
        },
      },
    ];
    const plan = seededPlan({ steps });
    await gw.store.append(plan.events);
    const alice = await gw.token("alice", ["operator"]);
    const executed = await post(`/v1/plans/${plan.planId}:execute`, alice, { revision: 1 });
    assert.equal(executed.status, 202, JSON.stringify(executed.body));
    return { planId: plan.planId, executionId: String(executed.body.id), alice };
  }

  it("the requester cancels a running execution with the CLI: it stops before its next step; who else may not, and the errors", async () => {
    const starter = await h.startStarter();
    try {
      hold.current = holdCall(h.tools, (id) => id.endsWith("-s1"));
      const { executionId, alice } = await runningExecution();
      await withDeadline("step s1's tool call", hold.current.reached, 60_000);
      const cancelPath = `/v1/executions/${executionId}:cancel`;

      // Refused before anything is recorded: not an owner, not an operator, no reason, unknown execution.
      const dave = await gw.token("dave", ["operator"]);
      const notOwner = await post(cancelPath, dave, { reason: "mine now" });
      assert.equal(notOwner.status, 403);
      assert.match(notOwner.type, /application\/problem\+json/);
      assert.match(String(notOwner.body.detail), /dave may not cancel execution/);
      assert.match(String(notOwner.body.fix), /whoever requested the plan or the execution, or an administrator/);
      const viewer = await post(cancelPath, await gw.token("vic", ["viewer"]), { reason: "look" });
      assert.equal(viewer.status, 403);
      const noReason = await post(cancelPath, alice, {});
      assert.equal(noReason.status, 400);
      assert.equal(noReason.body.field, "body.reason");
      const blank = await post(cancelPath, alice, { reason: "   " });
      assert.equal(blank.status, 400);
      const unknown = await post("/v1/executions/no-such-execution:cancel", alice, { reason: "x" });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.field, "id");
      assert.deepEqual(
        (await gw.store.readAggregate("execution", executionId)).filter((e) => e.type === "execution.cancel_requested"),
        [],
        "nothing was recorded by a refused request",
      );

      // Alice, from the CLI.
      const cli = await execa(
        process.execPath,
        ["--import", "tsx", "services/cli/main.ts", "executions", "cancel", executionId, "--reason", "wrong cluster"],
        {
          cwd: ROOT,
          env: { ...process.env, WHEELHOUSE_URL: gw.url, WHEELHOUSE_TOKEN: alice },
          reject: false,
        },
      );
      assert.equal(cli.exitCode, 0, cli.stderr);
      assert.match(cli.stdout, new RegExp(`cancel of execution ${executionId} requested`));
      const requested = (await gw.store.readAggregate("execution", executionId)).filter(
        (e) => e.type === "execution.cancel_requested",
      );
      assert.equal(requested.length, 1);
      assert.ok(requested[0]?.type === "execution.cancel_requested");
      assert.deepEqual(requested[0].payload, {
        execution_id: executionId,
        reason: "wrong cluster",
        requested_by: "alice",
      });

      // The orchestrator relays it to the workflow, which stops once the step in hand is done.
      const handle = temporal.client.workflow.getHandle(executionId);
      await waitFor("the workflow to have the cancel", async () => (await handle.query(statusQuery)).cancel_requested, {
        timeoutMs: 30_000,
      });
      hold.current.release();
      const events = await waitForEnd(gw.store, executionId);
      const last = events.at(-1);
      assert.ok(last?.type === "execution.cancelled", `ended with ${last?.type}`);
      assert.equal(last.payload.reason, "cancelled by alice: wrong cluster");
      assert.deepEqual(
        events
          .filter((e) => e.type === "execution.step_started")
          .map((e) => (e.payload as { step_id: string }).step_id),
        ["s1"],
        "s2 never started",
      );
      assert.deepEqual(
        recordedArgv(h.argvLog).map((a) => a[1]),
        ["scale"],
      );

      // Finished: a second cancel is a conflict naming the state.
      const again = await post(cancelPath, alice, { reason: "again" });
      assert.equal(again.status, 409);
      assert.equal(again.body.status, 409);
      assert.equal(again.body.execution_status, "cancelled");
      assert.match(String(again.body.detail), /has already ended \(cancelled\); nothing to cancel/);
      const cliAgain = await execa(
        process.execPath,
        ["--import", "tsx", "services/cli/main.ts", "executions", "cancel", executionId, "--reason", "again"],
        {
          cwd: ROOT,
          env: { ...process.env, WHEELHOUSE_URL: gw.url, WHEELHOUSE_TOKEN: alice },
          reject: false,
        },
      );
      assert.notEqual(cliAgain.exitCode, 0);
      assert.match(cliAgain.stderr, /nothing to cancel/);
    } finally {
      hold.current?.release();
      await starter.stop();
    }
  });

  it("an admin cancels an execution that has not started yet: the relay waits for its workflow", async () => {
    hold.current = holdCall(h.tools, (id) => id.endsWith("-s1"));
    // No starter running: execution.requested is recorded, its workflow not started.
    const { executionId } = await runningExecution();
    const carol = await gw.token("carol", ["admin"]);
    const cancelled = await post(`/v1/executions/${executionId}:cancel`, carol, { reason: "freeze" });
    assert.equal(cancelled.status, 202, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.duplicate, false);
    // Asked twice before it started: recorded once, answered as a duplicate.
    const twice = await post(`/v1/executions/${executionId}:cancel`, carol, { reason: "freeze" });
    assert.equal(twice.status, 202);
    assert.equal(twice.body.duplicate, true);
    assert.equal(twice.body.seq, cancelled.body.seq);

    const starter = await h.startStarter();
    try {
      // s1's call (if the workflow gets that far first) is held until the relay has reached the
      // workflow it waited for, so that s2 never comes due whichever of the two is quicker.
      const handle = temporal.client.workflow.getHandle(executionId);
      await waitFor("the workflow to have the cancel", async () => (await handle.query(statusQuery)).cancel_requested, {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      hold.current.release();
      const events = await waitForEnd(gw.store, executionId);
      const last = events.at(-1);
      assert.ok(last?.type === "execution.cancelled", `ended with ${last?.type}`);
      assert.equal(last.payload.reason, "cancelled by carol: freeze");
      assert.ok(
        !events.some((e) => e.type === "execution.step_started" && (e.payload as { step_id: string }).step_id === "s2"),
        "s2 never started",
      );
    } finally {
      hold.current.release();
      await starter.stop();
    }
  });

  it("the OpenAPI document shows the route, its body and its errors' shape", async () => {
    const doc = (await (await fetch(`${gw.url}/v1/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          { operationId?: string; requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }
        >
      >;
    };
    const op = doc.paths["/v1/executions/{id}:cancel"]?.post;
    assert.equal(op?.operationId, "cancelExecution");
    assert.deepEqual(op?.requestBody?.content["application/json"]?.schema.required, ["reason"]);
  });
});

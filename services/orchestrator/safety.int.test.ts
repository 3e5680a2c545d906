/**
 * Execution safety against real NATS, the Temporal dev server, a real tool router and the real
 * kubectl on the local cluster:
 *
 * - the approval race: an approval withdrawn between the orchestrator's re-check and the tool call
 *   stops the call (the write is authorised by an append guarded by the plan's version the
 *   re-check read); an answer that keeps the approval only makes it decide again;
 * - a retried write that started and never reported an end is settled from the live state, never
 *   run a second time, and refused when the state does not show it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { type AnyEvent, type AnyRecordedEvent, newEvent } from "../../events/index.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import {
  connectTemporal,
  connectTestNats,
  kubeGet,
  recordedArgv,
  type TestTemporal,
} from "../../test/support/index.ts";
import {
  approvalEvent,
  CAROL,
  createHarness,
  executionRequested,
  type Harness,
  type HarnessOptions,
  seededPlan,
  typesOf,
  waitForEnd,
} from "../../test/support/orchestrator.ts";
import type { ToolClient } from "./tool-client.ts";
import { routeTemporalLogs, workflowBundle } from "./worker.ts";

const catalog = loadCatalog();
const logger = createLogger({ service: "orchestrator-safety-test", level: "warn", format: "json" });

/** The store as the worker's activities see it, with `hook` run once right before the first append of `type`. */
function appendHook(store: EventStore, type: AnyEvent["type"], hook: () => Promise<void>): EventStore {
  let ran = false;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== "append") return Reflect.get(target, prop, receiver);
      return async (events: readonly AnyEvent[], options?: Parameters<EventStore["append"]>[1]) => {
        if (!ran && events[0]?.type === type) {
          ran = true;
          await hook();
        }
        return target.append(events, options);
      };
    },
  });
}

const replicasIn = async (namespace: string) =>
  (await kubeGet<{ spec: { replicas: number } }>("deployment/checkout", `--namespace=${namespace}`))?.spec.replicas;
const scalesIn = (argvLog: string) => recordedArgv(argvLog).filter((a) => a[0] === "kubectl" && a[1] === "scale");
const ofCall = (events: readonly AnyRecordedEvent[], type: string, toolCallId: string) =>
  events.filter((e) => e.type === type && (e.payload as { tool_call_id?: string }).tool_call_id === toolCallId);

describe("execution safety (Temporal + NATS + tool router + kubectl)", { timeout: 180_000 }, () => {
  let nc: NatsConnection;
  let temporal: TestTemporal;

  before(async () => {
    routeTemporalLogs(logger);
    nc = await connectTestNats();
    temporal = await connectTemporal();
    await workflowBundle();
  });
  after(async () => {
    await temporal.close();
    await nc.drain();
  });

  const harness = (options: Partial<HarnessOptions> = {}) =>
    createHarness({ nc, temporal, catalog, logger, ...options });

  /** A plan approved by bob, and its execution requested by alice; the worker and starter already running. */
  async function approvedExecution(h: Harness) {
    const plan = seededPlan({ steps: [h.scaleStep] });
    await h.store.append(plan.events);
    const { executionId, event } = executionRequested(plan.planId);
    await h.store.append([event]);
    return { planId: plan.planId, executionId, digest: planRevisionDigest([h.scaleStep]) };
  }

  describe("the approval race", () => {
    /**
     * Runs an approved plan while carol's `answer` lands right after the re-check read the plan (approved)
     * and before the write's authorisation; answers the execution's events once it has ended.
     */
    async function racedExecution(h: Harness, answer: "approval.granted" | "approval.denied") {
      const plan = seededPlan({ steps: [h.scaleStep] });
      const digest = planRevisionDigest([h.scaleStep]);
      const racing = appendHook(h.store, "plan.write_authorized", async () => {
        await h.store.append([approvalEvent(answer, plan.planId, CAROL, digest)]);
      });
      await h.startWorker({ store: racing });
      await h.startStarter();
      await h.store.append(plan.events);
      const { executionId, event } = executionRequested(plan.planId);
      await h.store.append([event]);
      return { planId: plan.planId, digest, executionId, events: await waitForEnd(h.store, executionId) };
    }

    it("an approval withdrawn between the re-check and the call stops it: no tool call, execution.failed says why", async () => {
      const h = await harness();
      try {
        // Right after the re-check read the plan (approved) and before its authorisation lands, carol denies.
        const { planId, events } = await racedExecution(h, "approval.denied");
        const last = events.at(-1);
        assert.ok(last?.type === "execution.failed", `ended with ${last?.type}`);
        assert.match(last.payload.reason ?? "", /carol denied revision 1/);
        assert.deepEqual(typesOf(events, "tool_call."), [], "no tool call was made");
        assert.deepEqual(scalesIn(h.argvLog), [], "kubectl never ran");
        assert.equal(await replicasIn(h.namespace), 2, "the Deployment is as it was");
        const planEvents = await h.store.readAggregate("plan", planId);
        assert.ok(
          planEvents.some((e) => e.type === "approval.denied"),
          "the withdrawal was recorded between the re-check and the append",
        );
        assert.deepEqual(typesOf(planEvents, "plan.write_authorized"), [], "the write was never authorised");
      } finally {
        await h.close();
      }
    });

    it("an answer that keeps the approval makes it decide again: the write runs once, authorised after that answer", async () => {
      const h = await harness();
      try {
        const { planId, digest, executionId, events } = await racedExecution(h, "approval.granted");
        assert.equal(events.at(-1)?.type, "execution.succeeded");
        assert.equal(scalesIn(h.argvLog).length, 1, "kubectl scale ran once");
        assert.equal(await replicasIn(h.namespace), 4);
        const planEvents = await h.store.readAggregate("plan", planId);
        const tail = planEvents.slice(-2);
        assert.deepEqual(
          tail.map((e) => e.type),
          ["approval.granted", "plan.write_authorized"],
          "authorised once, on the plan as it was after carol's grant",
        );
        const authorised = tail[1];
        assert.ok(authorised?.type === "plan.write_authorized");
        assert.deepEqual(
          {
            execution_id: authorised.payload.execution_id,
            step_id: authorised.payload.step_id,
            tool_call_id: authorised.payload.tool_call_id,
            digest: authorised.payload.digest,
          },
          { execution_id: executionId, step_id: "s1", tool_call_id: `${executionId}-s1`, digest },
        );
        assert.equal(authorised.actor.id, "orchestrator");
        // The authorisation precedes the call it allowed.
        const started = ofCall(events, "tool_call.started", `${executionId}-s1`)[0];
        assert.ok(started && Date.parse(authorised.occurred_at) <= Date.parse(started.occurred_at));
      } finally {
        await h.close();
      }
    });
  });

  describe("a write that started and never reported an end", () => {
    // The router's wait for the call's end lasts until its capability would expire (the tool timeout plus
    // 30 s); the worker's clock runs that far ahead so that the test reaches the read at once. The kill drill
    // (kill-drill.int.test.ts) waits it out for real.
    const ahead = () => new Date(Date.now() + 120_000);

    /** A client whose first call of `toolCallId` does `first` instead, then fails as a worker that died would. */
    function dyingOnce(
      real: ToolClient,
      toolCallId: () => string,
      first: (...call: Parameters<ToolClient["executeTool"]>) => Promise<unknown>,
    ): ToolClient {
      let died = false;
      return {
        async executeTool(request, options) {
          if (!died && request.tool_call_id === toolCallId()) {
            died = true;
            await first(request, options);
            throw new Error("the worker died before it heard the answer");
          }
          return real.executeTool(request, options);
        },
        getResource: (request, options) => real.getResource(request, options),
      };
    }

    it("is settled from the live state when it shows the effect: the CLI runs once, the step goes on", async () => {
      let callId = "";
      // The router ran the call, but its `tool_call.completed` never reached the stream (it died first).
      const h = await harness({
        keepRouterEvent: (e) => !(e.type === "tool_call.completed" && e.payload.tool_call_id === callId),
      });
      try {
        // The call is made for real (the router runs kubectl), then the worker dies before the answer.
        const client = dyingOnce(
          h.tools,
          () => callId,
          (request, options) => h.tools.executeTool(request, options),
        );
        await h.startWorker({ tools: client, now: ahead });
        await h.startStarter();
        const { executionId } = await approvedExecution(h);
        callId = `${executionId}-s1`;

        const events = await waitForEnd(h.store, executionId);
        assert.equal(events.at(-1)?.type, "execution.succeeded", JSON.stringify(events.at(-1)?.payload));
        assert.equal(scalesIn(h.argvLog).length, 1, "kubectl scale ran once");
        assert.equal(await replicasIn(h.namespace), 4);
        assert.equal(ofCall(events, "tool_call.started", callId).length, 1);
        const completed = ofCall(events, "tool_call.completed", callId);
        assert.equal(completed.length, 1, "one end, recorded by the orchestrator");
        const end = completed[0];
        assert.ok(end?.type === "tool_call.completed");
        assert.equal(end.payload.status, "succeeded");
        assert.equal(end.actor.id, "orchestrator");
        assert.match(
          end.payload.settled_by_read?.detail ?? "",
          /spec\.replicas of deployment\/checkout is 4; the call sets 4/,
        );
        // The read that showed it went through the router like any call, with a read capability.
        const read = events.find(
          (e) =>
            e.type === "tool_call.completed" && e.payload.tool_call_id === end.payload.settled_by_read?.tool_call_id,
        );
        assert.ok(read?.type === "tool_call.completed" && read.payload.status === "succeeded");
        assert.deepEqual(
          recordedArgv(h.argvLog).map((a) => a[1]),
          ["scale", "get"],
        );
      } finally {
        await h.close();
      }
    });

    it("is refused, never run again, when the live state does not show the effect", async () => {
      const h = await harness();
      try {
        let executionId = "";
        // The router recorded the start and died before the CLI did anything.
        const client = dyingOnce(
          h.tools,
          () => `${executionId}-s1`,
          async () => {
            await h.store.append([
              newEvent(
                "tool_call.started",
                executionId,
                {
                  execution_id: executionId,
                  tool_call_id: `${executionId}-s1`,
                  step_id: "s1",
                  action_id: "kubectl.scale",
                  argv: ["kubectl", "scale", "deployment/checkout", "--replicas=4", `--namespace=${h.namespace}`],
                  binary: "kubectl",
                  via: "cli",
                  dry_run: false,
                },
                { actor: { kind: "service", id: "tool-router", roles: [] }, correlation_id: executionId },
              ),
            ]);
          },
        );
        await h.startWorker({ tools: client, now: ahead });
        await h.startStarter();
        const plan = seededPlan({ steps: [h.scaleStep] });
        await h.store.append(plan.events);
        const requested = executionRequested(plan.planId);
        executionId = requested.executionId;
        await h.store.append([requested.event]);

        const events = await waitForEnd(h.store, executionId);
        const last = events.at(-1);
        assert.ok(last?.type === "execution.failed", `ended with ${last?.type}`);
        assert.match(
          last.payload.reason ?? "",
          /tool call .*-s1 \(kubectl\.scale\) started at .* and never reported an end; the live state does not show its effect \(spec\.replicas of deployment\/checkout is 2; the call sets 4\)/,
        );
        assert.deepEqual(scalesIn(h.argvLog), [], "kubectl scale never ran");
        assert.equal(await replicasIn(h.namespace), 2);
        const end = ofCall(events, "tool_call.completed", `${executionId}-s1`);
        assert.equal(end.length, 1);
        assert.ok(end[0]?.type === "tool_call.completed" && end[0].payload.status === "failed");
        // Not retried: one read of the live state, and the step's write never rolled back (it did not run).
        assert.deepEqual(
          recordedArgv(h.argvLog).map((a) => a[1]),
          ["get"],
        );
        assert.deepEqual(typesOf(events, "execution.rollback"), []);
      } finally {
        await h.close();
      }
    });
  });
});

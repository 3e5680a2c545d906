/**
 * The cancel route while the execution keeps recording (real NATS events stream): a running
 * execution appends tool calls and measurements every few seconds, and one landing between the
 * route's read and its append must not refuse the person's cancel; one that ends the execution in
 * between still does (409, as for any finished execution). The orchestrator's side (the relay, the
 * workflow stopping) is services/orchestrator/cancel.int.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Actor, newEvent } from "../../events/index.ts";
import { executionIdOf } from "../../lib/domain/index.ts";
import { ConflictError } from "../../lib/errors/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { proposeAndDecide, startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { cancelExecution } from "./cancel.ts";
import type { CommandDeps } from "./commands.ts";

const ALICE: Actor = { kind: "user", id: "alice", roles: ["operator"] };
const ORCHESTRATOR = { actor: { kind: "service", id: "orchestrator", roles: [] } as Actor, correlation_id: "test" };

describe("cancel while the execution keeps recording (gateway, NATS)", () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway({ projector: false });
  });
  after(() => gw.stop());

  /** A plan that policy allows, executed by alice: its execution is requested and not finished. */
  async function requestedExecution(intent: string): Promise<string> {
    const token = await gw.token("alice", ["operator"]);
    const post = (path: string, body: unknown) =>
      fetch(`${gw.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const created = await post("/v1/plans", { intent });
    assert.equal(created.status, 202, await created.clone().text());
    const planId = ((await created.json()) as { id: string }).id;
    await proposeAndDecide(gw.store, planId, "allow");
    const executed = await post(`/v1/plans/${planId}:execute`, { revision: 1 });
    assert.equal(executed.status, 202, await executed.clone().text());
    return executionIdOf(planId, 1);
  }

  /**
   * The route's dependencies over a store on which `interleave` records something on the execution
   * right after each of the first `times` reads of it: between the route's read and its append.
   */
  function depsWith(store: EventStore, times: number, interleave: (executionId: string) => Promise<void>) {
    let left = times;
    const racing: EventStore = Object.create(store, {
      readAggregate: {
        value: async (...args: Parameters<EventStore["readAggregate"]>) => {
          const events = await store.readAggregate(...args);
          if (args[0] === "execution" && left > 0) {
            left -= 1;
            await interleave(args[1]);
          }
          return events;
        },
      },
    });
    const deps: CommandDeps = {
      store: racing,
      now: () => new Date(),
      waitForProjection: async () => false,
      maxWaitMs: 0,
      scrub: (text) => text,
    };
    return deps;
  }

  let attempt = 0;
  const measured = (executionId: string) =>
    gw.store
      .append([
        newEvent(
          "execution.measured",
          executionId,
          {
            execution_id: executionId,
            step_id: "s1",
            provider: "kubectl",
            query: "kubectl.get .status.readyReplicas ?? 0",
            attempt: ++attempt,
            value: 0,
            outcome: "fail",
            reason: "0: result == input.replicas does not hold",
            measured_at: new Date().toISOString(),
          },
          ORCHESTRATOR,
        ),
      ])
      .then(() => undefined);

  const cancel = (deps: CommandDeps, executionId: string) =>
    cancelExecution(deps, {
      params: { id: executionId },
      query: {},
      body: { reason: "pods cannot be scheduled" },
      headers: {},
      actor: ALICE,
      requestId: `cancel-${executionId}`,
    });

  const cancelRequests = async (executionId: string) =>
    (await gw.store.readAggregate("execution", executionId)).filter((e) => e.type === "execution.cancel_requested");

  it("a measurement recorded between the read and the append: the cancel is decided again and accepted", async () => {
    const executionId = await requestedExecution("scale checkout to 4 in staging");
    const answer = await cancel(depsWith(gw.store, 1, measured), executionId);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal((answer.body as { duplicate: boolean }).duplicate, false);
    assert.equal((await cancelRequests(executionId)).length, 1);
    const types = (await gw.store.readAggregate("execution", executionId)).map((e) => e.type);
    assert.deepEqual(types, ["execution.requested", "execution.measured", "execution.cancel_requested"]);
  });

  it("the execution ended in between: 409 naming its end, and no request recorded", async () => {
    const executionId = await requestedExecution("scale checkout to 5 in staging");
    const planId = executionId.replace(/-r1$/, "");
    const succeeded = async (id: string) => {
      await gw.store.append([newEvent("execution.succeeded", id, { execution_id: id, plan_id: planId }, ORCHESTRATOR)]);
    };
    await assert.rejects(cancel(depsWith(gw.store, 1, succeeded), executionId), (error: unknown) => {
      assert.ok(error instanceof ConflictError, String(error));
      assert.match(error.message, /has already ended \(succeeded\); nothing to cancel/);
      return true;
    });
    assert.deepEqual(await cancelRequests(executionId), []);
  });

  it("an execution that moves on at every read: refused with the version after a few tries, nothing recorded", async () => {
    const executionId = await requestedExecution("scale checkout to 6 in staging");
    await assert.rejects(cancel(depsWith(gw.store, 100, measured), executionId), (error: unknown) => {
      assert.ok(error instanceof ConflictError, String(error));
      assert.equal(typeof error.extra?.current_version, "number");
      return true;
    });
    assert.deepEqual(await cancelRequests(executionId), []);
  });
});

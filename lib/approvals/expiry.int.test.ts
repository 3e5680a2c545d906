/**
 * The approval expiry timer against the local stack's NATS and Temporal: a
 * pending approval expires once at its TTL even when the worker that started
 * its timer is gone before it fires and another one runs it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Actor, type AnyEvent, type AnyRecordedEvent, newEvent, type PlanStep } from "../../events/index.ts";
import {
  connectTemporal,
  createTestEventStore,
  type TestEventStore,
  type TestTemporal,
} from "../../test/support/index.ts";
import { uniqueName } from "../../test/support/names.ts";
import { waitFor } from "../../test/support/wait.ts";
import { decide, envelopeDrafts, planDecider, planRevisionDigest } from "../domain/index.ts";
import { ConflictError } from "../errors/index.ts";
import { aggregateStream, handleCommand } from "../eventstore/index.ts";
import { createLogger } from "../log/index.ts";
import {
  approvalExpiryWorkflowId,
  createApprovalExpiryActivities,
  createApprovalTimers,
  startApprovalExpiry,
} from "./expiry.ts";

const logger = createLogger({ service: "approvals-test", level: "silent", format: "json" });
const alice: Actor = { kind: "user", id: "alice", roles: ["operator"] };
const sam: Actor = { kind: "user", id: "sam", roles: ["approver"], groups: ["sre"] };
const policy: Actor = { kind: "service", id: "policy", roles: [] };
const step: PlanStep = {
  step_id: "s1",
  action_id: "kubectl.scale",
  input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 4 },
  target: { environment: "production", service: "checkout" },
  rationale: "more capacity",
};
const TTL_SECONDS = 6;

describe("approval expiry timer (real NATS and Temporal)", () => {
  let es: TestEventStore;
  let hostA: TestTemporal;
  let hostB: TestTemporal;

  before(async () => {
    es = await createTestEventStore("apx");
    hostA = await connectTemporal();
    hostB = await connectTemporal();
  });
  after(async () => {
    await es.teardown();
    await hostA.close();
    await hostB.close();
  });

  /** A plan decided "require_approval" now, whose approval TTL is `TTL_SECONDS`. */
  async function decidePlan(planId: string) {
    const meta = (actor: Actor) => ({ actor, correlation_id: planId });
    const now = new Date();
    const events: AnyEvent[] = [
      newEvent(
        "plan.requested",
        planId,
        { plan_id: planId, intent: "scale checkout to 4", source: "api" },
        meta(alice),
      ),
      newEvent(
        "plan.proposed",
        planId,
        {
          plan_id: planId,
          revision: 1,
          summary: "scale",
          steps: [step],
          planner: { kind: "template" },
          digest: planRevisionDigest([step]),
        },
        meta(policy),
      ),
      newEvent(
        "policy.decided",
        planId,
        {
          plan_id: planId,
          revision: 1,
          decision: "require_approval",
          tier: "T2",
          reasons: ["production write"],
          approvers_required: 1,
          constraints: {},
          ttl_seconds: 3600,
          expires_at: new Date(now.getTime() + 3_600_000).toISOString(),
          policy_revision: "test",
          steps: [],
          approval: {
            approvers: 1,
            groups: [],
            self_approval: false,
            channels: ["api", "cli"],
            ttl_seconds: TTL_SECONDS,
            break_glass: { allowed: false, groups: [] },
          },
        },
        { ...meta(policy), occurred_at: now.toISOString() },
      ),
    ];
    await es.store.append(events);
    return { decidedAt: now.getTime() };
  }

  /** Sam grants revision 1 now, through the plan decider, from the CLI. */
  const grantNow = (planId: string) =>
    handleCommand(es.store, planDecider, planId, (state) =>
      envelopeDrafts(
        decide(
          {
            type: "GrantApproval",
            planId,
            revision: 1,
            digest: planRevisionDigest([step]),
            actor: sam,
            channel: "cli",
            approvalId: `${planId}-sam`,
            now: new Date(),
          },
          state,
        ),
        planId,
        { actor: sam, correlation_id: planId },
      ),
    );

  const ofType = async (planId: string, type: AnyRecordedEvent["type"]) =>
    (await es.store.readAggregate("plan", planId)).filter((e) => e.type === type);

  it("given a pending approval whose timer's worker stops, when another worker runs, then it expires once at its TTL", async () => {
    const taskQueue = uniqueName("apx-q");
    const durable = uniqueName("apx-timers");
    const timersA = createApprovalTimers({
      store: es.store,
      temporal: { connection: hostA.workerConnection, client: hostA.client },
      taskQueue,
      logger,
      durable,
      openRequests: true,
    });
    await timersA.start();
    const planId = uniqueName("apx-plan");
    const { decidedAt } = await decidePlan(planId);
    const deadline = decidedAt + TTL_SECONDS * 1000;

    // Host A requests the approval and arms the timer.
    const [requested] = await waitFor("approval.requested", async () => {
      const found = await ofType(planId, "approval.requested");
      return found.length > 0 ? found : undefined;
    });
    assert.equal(requested?.type, "approval.requested");
    if (requested?.type !== "approval.requested") return;
    assert.equal(requested.payload.expires_at, new Date(deadline).toISOString());
    assert.equal(requested.payload.digest, planRevisionDigest([step]));
    const handle = hostA.client.workflow.getHandle(approvalExpiryWorkflowId(planId, 1));
    const first = await waitFor("the timer workflow", async () => (await handle.describe()).runId);
    // A redelivery finds the same timer: still one run.
    assert.equal(await timersA.arm(requested), "running");
    assert.equal((await handle.describe()).runId, first);

    // Host A goes away before the timer fires; nothing has expired yet.
    await timersA.stop();
    assert.ok(Date.now() < deadline, "the first worker must stop before the deadline for this test to mean anything");
    assert.equal((await ofType(planId, "approval.expired")).length, 0);

    // Host B (its own connection and worker) takes over.
    const timersB = createApprovalTimers({
      store: es.store,
      temporal: { connection: hostB.workerConnection, client: hostB.client },
      taskQueue,
      logger,
      durable,
      openRequests: true,
    });
    await timersB.start();
    try {
      assert.equal(await hostB.client.workflow.getHandle(handle.workflowId).result(), "expired");
      const expired = await ofType(planId, "approval.expired");
      assert.equal(expired.length, 1);
      assert.ok(Date.parse(expired[0]?.occurred_at ?? "") >= deadline, "expired before its deadline");
      assert.equal((await handle.describe()).runId, first);

      // Once: a repeated activity and a redelivered request change nothing.
      const activities = createApprovalExpiryActivities({ store: es.store });
      const input = { plan_id: planId, revision: 1, expires_at: requested.payload.expires_at, correlation_id: planId };
      assert.equal(await activities.expireApproval(input), "not_pending");
      assert.equal(await startApprovalExpiry(hostB.client, taskQueue, input), "finished");
      assert.equal(await timersB.arm(requested), "finished");
      assert.equal((await ofType(planId, "approval.expired")).length, 1);

      // A grant arriving after expiry is refused; so is execution.
      await assert.rejects(
        grantNow(planId),
        (error: unknown) => error instanceof ConflictError && /approval window .* closed/.test(error.message),
      );
      const { state } = await aggregateStream(es.store, planDecider, planId);
      assert.equal(state.status === "decided" ? state.expiredAt : null, expired[0]?.occurred_at);
    } finally {
      await timersB.stop();
    }
  });

  it("given a pending approval answered before its TTL, when the timer fires, then nothing expires", async () => {
    const taskQueue = uniqueName("apx-q");
    const timers = createApprovalTimers({
      store: es.store,
      temporal: { connection: hostB.workerConnection, client: hostB.client },
      taskQueue,
      logger,
      durable: uniqueName("apx-timers"),
      openRequests: true,
    });
    await timers.start();
    try {
      const planId = uniqueName("apx-plan");
      await decidePlan(planId);
      await waitFor("approval.requested", async () => (await ofType(planId, "approval.requested")).length > 0);
      // The timer is armed by the timers' own subscriber after approval.requested is stored; wait for it so the
      // grant lands while the timer runs, which is the case this test is about (and result() has a workflow).
      const handle = hostB.client.workflow.getHandle(approvalExpiryWorkflowId(planId, 1));
      await waitFor("the timer workflow", async () => (await handle.describe()).runId);
      await grantNow(planId);
      assert.equal(await handle.result(), "not_pending");
      assert.equal((await ofType(planId, "approval.expired")).length, 0);
    } finally {
      await timers.stop();
    }
  });
});

/**
 * `POST /v1/executions/{id}:verdict` through the real gateway (HTTP, OIDC tokens, NATS events stream,
 * the projector into Postgres): who may give a verdict, the errors naming the problem and the fix
 * (bad body, unknown, finished, not paused, past the deadline), the 202 and the
 * `execution.verdict_requested` it appends, and the executions read model showing `paused`, then
 * `running`. The workflow's side (the orchestrator's pause, the relay, the outcome) is
 * services/orchestrator/verdict.int.test.ts; the workflow is played here by appending its events.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Actor, type AnyRecordedEvent, newEvent } from "../../events/index.ts";
import { executionIdOf } from "../../lib/domain/index.ts";
import { proposeAndDecide, startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { waitFor } from "../../test/support/index.ts";

const ORCHESTRATOR: Actor = { kind: "service", id: "orchestrator", roles: [] };
const HOUR = 3_600_000;

describe("a verdict on a paused execution (gateway, NATS, projector)", { timeout: 120_000 }, () => {
  let gw: TestGateway;
  let alice: string;

  before(async () => {
    gw = await startTestGateway();
    alice = await gw.token("alice", ["operator"]);
  });
  after(() => gw.stop());

  const post = async (path: string, token: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get("content-type") ?? "",
      body: (await res.json()) as Record<string, unknown>,
    };
  };

  /** The execution as the read model serves it, once `ready` holds of it (within a deadline). */
  const executionWhen = (executionId: string, what: string, ready: (status: string) => boolean) =>
    waitFor(
      `execution ${executionId} ${what}`,
      async () => {
        const res = await fetch(`${gw.url}/v1/executions/${executionId}`, {
          headers: { authorization: `Bearer ${alice}` },
        });
        if (res.status !== 200) return undefined;
        const execution = (await res.json()) as { status: string };
        return ready(execution.status) ? execution : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );

  /** A plan of alice's that policy allows, executed by alice through the API, and started (as the orchestrator would). */
  async function runningExecution(intent: string) {
    const created = await post("/v1/plans", alice, { intent });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const planId = String(created.body.id);
    await proposeAndDecide(gw.store, planId, "allow");
    const executed = await post(`/v1/plans/${planId}:execute`, alice, { revision: 1 });
    assert.equal(executed.status, 202, JSON.stringify(executed.body));
    const executionId = executionIdOf(planId, 1);
    const meta = { actor: ORCHESTRATOR, correlation_id: planId };
    await gw.store.append([
      newEvent(
        "execution.started",
        executionId,
        { execution_id: executionId, plan_id: planId, workflow_id: executionId },
        meta,
      ),
    ]);
    return { planId, executionId, meta };
  }

  /** As the workflow records it when s1's analysis pauses, with the deadline `inMs` from now. */
  async function pause(executionId: string, meta: { actor: Actor; correlation_id: string }, inMs = HOUR) {
    await gw.store.append([
      newEvent(
        "execution.paused",
        executionId,
        {
          execution_id: executionId,
          step_id: "s1",
          check: "checkout's error ratio stays below 5%",
          reason: 'prometheus "sum(rate(...))": no series; no measurement passed',
          attempts: 1,
          deadline: new Date(Date.now() + inMs).toISOString(),
        },
        meta,
      ),
    ]);
  }

  const verdicts = async (executionId: string) =>
    (await gw.store.readAggregate("execution", executionId)).filter(
      (e): e is Extract<AnyRecordedEvent, { type: "execution.verdict_requested" }> =>
        e.type === "execution.verdict_requested",
    );

  it("refuses, before anything is recorded: a bad body, another operator, a viewer, an unknown execution, one that is not paused", async () => {
    const { executionId, meta } = await runningExecution("annotate checkout before a verdict");
    const path = `/v1/executions/${executionId}:verdict`;
    const good = { decision: "pass", reason: "checkout has no traffic at night" };

    // Running, not paused: 409 saying what it is doing and what takes a verdict.
    const running = await post(path, alice, good);
    assert.equal(running.status, 409, JSON.stringify(running.body));
    assert.match(running.type, /application\/problem\+json/);
    assert.equal(running.body.execution_status, "running");
    assert.match(String(running.body.detail), new RegExp(`execution ${executionId} is running and is not paused`));
    assert.match(String(running.body.fix), /only an analysis paused as inconclusive \(on_inconclusive: "pause"\)/);

    await pause(executionId, meta);
    const bad: [unknown, string][] = [
      [{ reason: "x" }, "body.decision"],
      [{ decision: "maybe", reason: "x" }, "body.decision"],
      [{ decision: "pass" }, "body.reason"],
      [{ decision: "fail", reason: "   " }, "body.reason"],
      [{ ...good, step_id: "s2" }, "body.step_id"],
    ];
    for (const [body, field] of bad) {
      const answer = await post(path, alice, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.field, field, JSON.stringify(answer.body));
      assert.ok(String(answer.body.fix).length > 0);
    }
    const maybe = await post(path, alice, { decision: "maybe", reason: "x" });
    assert.match(JSON.stringify(maybe.body), /must be \\"pass\\" \(verification goes on\) or \\"fail\\"/);

    const dave = await post(path, await gw.token("dave", ["operator"]), good);
    assert.equal(dave.status, 403);
    assert.match(String(dave.body.detail), new RegExp(`dave may not give a verdict on execution ${executionId}`));
    assert.match(String(dave.body.fix), /whoever requested the plan or the execution, or an administrator/);
    const viewer = await post(path, await gw.token("vic", ["viewer"]), good);
    assert.equal(viewer.status, 403);
    const unknown = await post("/v1/executions/no-such-execution:verdict", alice, good);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.field, "id");
    assert.deepEqual(await verdicts(executionId), [], "nothing was recorded by a refused request");
  });

  it("the requester passes a paused analysis: 202, the event, and the read model paused, then running; a second verdict is a conflict", async () => {
    const { executionId, meta } = await runningExecution("annotate checkout before a passing verdict");
    await pause(executionId, meta);
    await executionWhen(executionId, "is paused", (s) => s === "paused");

    const path = `/v1/executions/${executionId}:verdict`;
    const given = await post(
      path,
      alice,
      { decision: "pass", reason: "checkout has no traffic at night" },
      { prefer: "wait=5", "idempotency-key": `verdict-${executionId}` },
    );
    assert.equal(given.status, 202, JSON.stringify(given.body));
    assert.equal(given.body.id, executionId);
    assert.equal(given.body.kind, "execution");
    assert.equal(given.body.location, `/v1/executions/${executionId}`);
    assert.equal(given.body.duplicate, false);
    assert.equal(given.body.projected, true);
    const [recorded, ...more] = await verdicts(executionId);
    assert.equal(more.length, 0);
    assert.deepEqual(recorded?.payload, {
      execution_id: executionId,
      step_id: "s1",
      decision: "pass",
      reason: "checkout has no traffic at night",
      requested_by: "alice",
    });
    assert.equal(recorded?.actor.id, "alice");
    assert.equal(recorded?.seq, given.body.seq);
    await executionWhen(executionId, "runs again", (s) => s === "running");

    // The same request again (its key): the first answer, nothing appended.
    const retried = await post(
      path,
      alice,
      { decision: "pass", reason: "checkout has no traffic at night" },
      { "idempotency-key": `verdict-${executionId}` },
    );
    assert.equal(retried.status, 202);
    assert.equal(retried.body.seq, given.body.seq);
    // Another verdict on the pause already judged: 409 naming the first.
    const again = await post(path, await gw.token("carol", ["admin"]), { decision: "fail", reason: "no, roll back" });
    assert.equal(again.status, 409);
    assert.match(String(again.body.detail), /its pause on step s1 was already judged pass by alice/);
    assert.equal((await verdicts(executionId)).length, 1);
  });

  it("an admin fails another person's paused analysis", async () => {
    const { executionId, meta } = await runningExecution("annotate checkout before a failing verdict");
    await pause(executionId, meta);
    const carol = await gw.token("carol", ["admin"]);
    const given = await post(`/v1/executions/${executionId}:verdict`, carol, {
      decision: "fail",
      reason: "the error ratio cannot be read; roll back",
    });
    assert.equal(given.status, 202, JSON.stringify(given.body));
    const [recorded] = await verdicts(executionId);
    assert.equal(recorded?.payload.decision, "fail");
    assert.equal(recorded?.payload.requested_by, "carol");
  });

  it("a finished execution and a pause past its deadline: 409 naming the end and the deadline", async () => {
    const ended = await runningExecution("annotate checkout, then end");
    await pause(ended.executionId, ended.meta);
    await gw.store.append([
      newEvent(
        "execution.failed",
        ended.executionId,
        { execution_id: ended.executionId, plan_id: ended.planId, reason: "verification failed" },
        ended.meta,
      ),
    ]);
    const finished = await post(`/v1/executions/${ended.executionId}:verdict`, alice, {
      decision: "pass",
      reason: "x",
    });
    assert.equal(finished.status, 409);
    assert.equal(finished.body.execution_status, "failed");
    assert.match(String(finished.body.detail), /has already ended \(failed\); there is no verdict to give/);

    const late = await runningExecution("annotate checkout, pause briefly");
    await pause(late.executionId, late.meta, -1000);
    const expired = await post(`/v1/executions/${late.executionId}:verdict`, alice, { decision: "pass", reason: "x" });
    assert.equal(expired.status, 409);
    assert.match(String(expired.body.detail), /pause on step s1 ended at .* without a verdict; the check fails/);
    assert.equal(typeof expired.body.deadline, "string");
    assert.deepEqual(await verdicts(ended.executionId), []);
    assert.deepEqual(await verdicts(late.executionId), []);
  });
});

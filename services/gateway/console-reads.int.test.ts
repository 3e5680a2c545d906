/**
 * What the console reads beyond the plain lists, through a real gateway and projector: the plans
 * and executions lists filtered by requester and creation time on the server (validated, strict),
 * an execution's verification measurements, and the caller as the gateway sees them (`/v1/me`).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Actor, type AnyEvent, newEvent } from "../../events/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { waitFor } from "../../test/support/index.ts";

const person = (id: string): Actor => ({ kind: "user", id, roles: ["operator"] });
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 12, minute)).toISOString();

describe("console reads", () => {
  let gw: TestGateway;
  let token = "";
  const get = async (path: string) => {
    const response = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const ids = async (path: string) => {
    const { status, body } = await get(path);
    assert.equal(status, 200, JSON.stringify(body));
    return (body.items as { plan_id?: string; execution_id?: string }[]).map((i) => i.execution_id ?? i.plan_id);
  };

  before(async () => {
    gw = await startTestGateway();
    token = await gw.token("viewer-1", ["viewer"]);
    // Three plans and an execution of each, by two people, a minute apart each.
    const events: AnyEvent[] = [];
    for (const [i, who] of [
      [0, "alice"],
      [1, "bob"],
      [2, "alice"],
    ] as const) {
      const meta = { actor: person(who), correlation_id: `c-${i}`, occurred_at: at(i) };
      events.push(
        newEvent("plan.requested", `p-${i}`, { plan_id: `p-${i}`, intent: `change ${i}`, source: "api" }, meta),
        newEvent("execution.requested", `x-${i}`, { execution_id: `x-${i}`, plan_id: `p-${i}`, revision: 1 }, meta),
      );
    }
    // p-0's revision 1: a scale step verified by a Prometheus analysis and a kubectl read of the
    // replicas against the step's own input; x-0 measured both, three times and once.
    const orchestrator = { actor: { kind: "service", id: "orchestrator", roles: [] } as Actor, correlation_id: "c-0" };
    events.push(
      newEvent(
        "plan.proposed",
        "p-0",
        {
          plan_id: "p-0",
          revision: 1,
          summary: "scale web to 3",
          planner: { kind: "template" },
          steps: [
            {
              step_id: "scale",
              action_id: "kubectl.scale",
              input: { replicas: 3 },
              target: { environment: "staging", service: "web" },
              rationale: "more capacity",
              verification: {
                description: "error ratio stays under 5%",
                analysis: {
                  provider: "prometheus",
                  query: "sum(rate(errors[1m])) / sum(rate(requests[1m]))",
                  success_condition: "result < 0.05",
                  failure_condition: "0.2 <= result",
                },
              },
            },
            {
              step_id: "ready",
              action_id: "kubectl.scale",
              input: { replicas: 3 },
              target: { environment: "staging", service: "web" },
              rationale: "the replicas the first step set",
              verification: {
                description: "3 ready replicas",
                action_id: "kubectl.get",
                input: { kind: "deployment", name: "web" },
                analysis: {
                  provider: "kubectl",
                  query: ".status.readyReplicas ?? 0",
                  success_condition: "result == input.replicas",
                },
              },
            },
          ],
        },
        orchestrator,
      ),
    );
    const measured = (attempt: number, value: number | null, outcome: "pass" | "fail" | "inconclusive") =>
      newEvent(
        "execution.measured",
        "x-0",
        {
          execution_id: "x-0",
          step_id: "scale",
          provider: "prometheus",
          query: "sum(rate(errors[1m])) / sum(rate(requests[1m]))",
          attempt,
          value,
          outcome,
          reason: value === null ? "no series" : `${value} against result < 0.05`,
          measured_at: at(10 + attempt),
        },
        orchestrator,
      );
    events.push(
      // Appended out of order and one twice (a retried activity): read back in attempt order, once.
      measured(2, null, "inconclusive"),
      measured(1, 0.01, "pass"),
      measured(3, 0.3, "fail"),
      measured(1, 0.01, "pass"),
      newEvent(
        "execution.measured",
        "x-0",
        {
          execution_id: "x-0",
          step_id: "ready",
          provider: "kubectl",
          // A kubectl analysis measures the verification's read: recorded as "<read action> <query>".
          query: "kubectl.get .status.readyReplicas ?? 0",
          attempt: 1,
          value: 3,
          outcome: "pass",
          reason: "3 == input.replicas",
          measured_at: at(14),
          evidence_id: "ev-read",
        },
        orchestrator,
      ),
    );
    // One append per aggregate, in order.
    for (const id of new Set(events.map((e) => e.aggregate_id))) {
      await gw.store.append(events.filter((e) => e.aggregate_id === id));
    }
    await waitFor("the plans and executions to be projected", async () => {
      const [plans, executions] = await Promise.all([get("/v1/plans"), get("/v1/executions")]);
      return (plans.body.items as unknown[]).length === 3 && (executions.body.items as unknown[]).length === 3;
    });
  });

  after(async () => {
    await gw?.stop();
  });

  it("lists plans by requester and creation time, newest first", async () => {
    assert.deepEqual(await ids("/v1/plans?requester=alice"), ["p-2", "p-0"]);
    assert.deepEqual(await ids("/v1/plans?requester=bob"), ["p-1"]);
    assert.deepEqual(await ids(`/v1/plans?from=${at(1)}`), ["p-2", "p-1"]);
    // `to` is exclusive.
    assert.deepEqual(await ids(`/v1/plans?to=${at(1)}`), ["p-0"]);
    assert.deepEqual(await ids(`/v1/plans?requester=alice&from=${at(1)}&to=${at(3)}`), ["p-2"]);
    assert.deepEqual(await ids("/v1/plans?requester=carol"), []);
  });

  it("pages a filtered list without skipping or repeating", async () => {
    const first = await get("/v1/plans?requester=alice&limit=1");
    assert.deepEqual(
      (first.body.items as { plan_id: string }[]).map((p) => p.plan_id),
      ["p-2"],
    );
    assert.ok(first.body.next_cursor);
    assert.deepEqual(await ids(`/v1/plans?requester=alice&limit=1&cursor=${first.body.next_cursor}`), ["p-0"]);
  });

  it("lists executions by requester and creation time", async () => {
    assert.deepEqual(await ids("/v1/executions?requester=alice"), ["x-2", "x-0"]);
    assert.deepEqual(await ids(`/v1/executions?requester=alice&to=${at(2)}`), ["x-0"]);
    assert.deepEqual(await ids(`/v1/executions?from=${at(1)}&to=${at(2)}`), ["x-1"]);
  });

  it("serves an execution's measurements per step and query, with the thresholds of its conditions", async () => {
    const { status, body } = await waitFor("x-0's measurements", async () => {
      const answer = await get("/v1/executions/x-0/measurements");
      const series = answer.body.series as { measurements: unknown[] }[] | undefined;
      return series?.reduce((n, x) => n + x.measurements.length, 0) === 4 ? answer : null;
    });
    assert.equal(status, 200);
    assert.deepEqual(body, {
      execution_id: "x-0",
      plan_id: "p-0",
      revision: 1,
      series: [
        {
          step_id: "scale",
          provider: "prometheus",
          query: "sum(rate(errors[1m])) / sum(rate(requests[1m]))",
          description: "error ratio stays under 5%",
          success_condition: "result < 0.05",
          failure_condition: "0.2 <= result",
          success_threshold: { op: "<", value: 0.05 },
          // Written with the number first: turned around to read as the value against it.
          failure_threshold: { op: ">=", value: 0.2 },
          measurements: [
            {
              attempt: 1,
              value: 0.01,
              outcome: "pass",
              reason: "0.01 against result < 0.05",
              measured_at: at(11),
              evidence_id: null,
            },
            {
              attempt: 2,
              value: null,
              outcome: "inconclusive",
              reason: "no series",
              measured_at: at(12),
              evidence_id: null,
            },
            {
              attempt: 3,
              value: 0.3,
              outcome: "fail",
              reason: "0.3 against result < 0.05",
              measured_at: at(13),
              evidence_id: null,
            },
          ],
        },
        {
          step_id: "ready",
          provider: "kubectl",
          query: "kubectl.get .status.readyReplicas ?? 0",
          description: "3 ready replicas",
          success_condition: "result == input.replicas",
          failure_condition: null,
          // input.replicas, read from the step's own input.
          success_threshold: { op: "==", value: 3 },
          failure_threshold: null,
          measurements: [
            {
              attempt: 1,
              value: 3,
              outcome: "pass",
              reason: "3 == input.replicas",
              measured_at: at(14),
              evidence_id: "ev-read",
            },
          ],
        },
      ],
    });
    const none = await get("/v1/executions/x-1/measurements");
    assert.equal(none.status, 200);
    assert.deepEqual(none.body.series, []);
    const missing = await get("/v1/executions/x-9/measurements");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.field, "params.id");
  });

  it("tells the caller who they are as the gateway sees them (what the console shows actions by)", async () => {
    const { status, body } = await get("/v1/me");
    assert.equal(status, 200);
    assert.deepEqual(
      { id: body.id, kind: body.kind, roles: body.roles },
      { id: "viewer-1", kind: "user", roles: ["viewer"] },
    );
    const anonymous = await fetch(`${gw.url}/v1/me`);
    assert.equal(anonymous.status, 401);
  });

  it("refuses a bad filter naming the field and the fix", async () => {
    for (const [path, field] of [
      ["/v1/plans?from=yesterday", "query.from"],
      ["/v1/executions?to=2026-03-01", "query.to"],
      ["/v1/plans?requester=", "query.requester"],
      ["/v1/plans?requestor=alice", "query.requestor"],
    ] as const) {
      const { status, body } = await get(path);
      assert.equal(status, 400, path);
      assert.equal(body.field, field, path);
      assert.ok(typeof body.fix === "string" && body.fix.length > 0, `${path}: a fix`);
    }
  });
});

/**
 * The measurements table and the list filters on a real Postgres schema (migrated by the real
 * migrator): events folded by the executions and plans writers, read back by their queries.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Actor, newEvent } from "../../events/index.ts";
import { createDb, type Db } from "../../lib/db/index.ts";
import { recorded } from "../../test/support/events.ts";
import { createTestSchema, type TestSchema, testEnv } from "../../test/support/index.ts";
import { plansProjection } from "../plans/index.ts";
import { listPlans } from "../plans/queries.ts";
import { applyWithWriter } from "../types.ts";
import { executionsProjection } from "./index.ts";
import { getExecutionMeasurements, listExecutions } from "./queries.ts";

const person = (id: string): Actor => ({ kind: "user", id, roles: ["operator"] });
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 12, minute)).toISOString();
const service: Actor = { kind: "service", id: "orchestrator", roles: [] };

describe("execution measurements and list filters in Postgres", () => {
  let schema: TestSchema;
  let db: Db;

  before(async () => {
    schema = await createTestSchema("measure");
    db = await createDb({ url: testEnv.pgUrl, schema: schema.name, migrate: false });
    const events = [];
    for (const [i, who] of ["alice", "bob", "alice"].entries()) {
      const meta = { actor: person(who), correlation_id: `c-${i}`, occurred_at: at(i) };
      events.push(
        newEvent("plan.requested", `p-${i}`, { plan_id: `p-${i}`, intent: `change ${i}`, source: "api" }, meta),
        newEvent("execution.requested", `x-${i}`, { execution_id: `x-${i}`, plan_id: `p-${i}`, revision: 1 }, meta),
      );
    }
    const meta = { actor: service, correlation_id: "c-0" };
    events.push(
      newEvent(
        "plan.proposed",
        "p-0",
        {
          plan_id: "p-0",
          revision: 1,
          summary: "scale",
          planner: { kind: "template" },
          steps: [
            {
              step_id: "s1",
              action_id: "kubectl.scale",
              input: { replicas: 3 },
              target: { environment: "staging" },
              rationale: "r",
              verification: {
                description: "ready",
                analysis: {
                  provider: "kubectl",
                  query: ".status.readyReplicas",
                  success_condition: "result == input.replicas",
                },
              },
            },
          ],
        },
        meta,
      ),
    );
    for (const [attempt, value] of [
      [2, 3],
      [1, 1],
      [2, 3],
    ] as const) {
      events.push(
        newEvent(
          "execution.measured",
          "x-0",
          {
            execution_id: "x-0",
            step_id: "s1",
            provider: "kubectl",
            query: ".status.readyReplicas",
            attempt,
            value,
            outcome: value === 3 ? "pass" : "fail",
            reason: `${value}`,
            measured_at: at(10 + attempt),
          },
          meta,
        ),
      );
    }
    const all = recorded(events);
    // Two batches, the repeated measurement in the second: still one row.
    for (const batch of [all.slice(0, -1), all.slice(-1)]) {
      for (const projection of [plansProjection, executionsProjection]) {
        const mine = batch.filter((e) => projection.handles.has(e.type));
        if (mine.length > 0) await applyWithWriter(projection.createWriter(), schema.pool, mine);
      }
    }
  });

  after(async () => {
    await db?.close();
    await schema?.drop();
  });

  it("reads an execution's measurements in order with the steps of the revision it ran", async () => {
    const data = await getExecutionMeasurements(db.pool, "x-0");
    assert.ok(data);
    assert.deepEqual(
      data.measurements.map((m) => [m.attempt, m.value, m.outcome, m.measured_at]),
      [
        [1, 1, "fail", at(11)],
        [2, 3, "pass", at(12)],
      ],
    );
    assert.deepEqual(
      data.steps.map((s) => [s.step_id, s.input]),
      [["s1", { replicas: 3 }]],
    );
    assert.equal((await getExecutionMeasurements(db.pool, "x-1"))?.measurements.length, 0);
    assert.equal(await getExecutionMeasurements(db.pool, "nope"), null);
  });

  it("filters plans and executions by requester and creation time", async () => {
    const plans = async (q: Parameters<typeof listPlans>[1]) =>
      (await listPlans(db.pool, q)).items.map((p) => p.plan_id);
    assert.deepEqual(await plans({ requester: "alice" }), ["p-2", "p-0"]);
    assert.deepEqual(await plans({ from: at(1), to: at(2) }), ["p-1"]);
    assert.deepEqual(await plans({ requester: "alice", to: at(2) }), ["p-0"]);
    const runs = async (q: Parameters<typeof listExecutions>[1]) =>
      (await listExecutions(db.pool, q)).items.map((x) => x.execution_id);
    assert.deepEqual(await runs({ requester: "bob" }), ["x-1"]);
    assert.deepEqual(await runs({ from: at(2) }), ["x-2"]);
  });
});

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { type AnyEvent, newEvent } from "../../events/index.ts";
import { verifyAuditChain } from "../../lib/audit/index.ts";
import { createDb, type Db, sql } from "../../lib/db/index.ts";
import { createEventStore, type EventStore } from "../../lib/eventstore/index.ts";
import { changeHistory, contextHistory } from "../../projections/fixtures.ts";
import { projections } from "../../projections/index.ts";
import { registerProjectorLagMetrics } from "../../projections/lag.ts";
import { createReadModelQueries } from "../../projections/queries.ts";
import type { Projection } from "../../projections/types.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  natsEnv,
  readModelRows,
  schemaPool,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";
import { createProjector } from "./projector.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const queriesOf = (d: Db) => createReadModelQueries(d.pool);

const READ_MODELS = [
  "plans",
  "plan_steps",
  "approvals",
  "executions",
  "tool_calls",
  "evidence",
  "context_nodes",
  "context_edges",
];

/** Every read-model row, as JSON text. */
const snapshot = (schema: string) => readModelRows(schema, READ_MODELS);

describe("projector (real NATS + Postgres)", () => {
  const prefix = uniqueName("t_pj");
  const schemas = [
    `${prefix}`,
    `${prefix}_fresh`,
    `${prefix}_poison`,
    `${prefix}_kill`,
    `${prefix}_kill_fresh`,
    `${prefix}_audit`,
    `${prefix}_audit_fresh`,
  ];
  const prefixes = [prefix, `${prefix}_kill`, `${prefix}_poison`, `${prefix}_audit`];
  let nc: NatsConnection;
  let store: EventStore;
  const dbs: Db[] = [];

  before(async () => {
    nc = await connectTestNats();
    store = createEventStore({ nc, prefix });
    await store.provision();
  });

  after(async () => {
    for (const db of dbs) await db.close();
    await deleteStreams(nc, ...prefixes);
    await dropSchemas(...schemas);
    await nc.close();
  });

  async function db(schema: string) {
    const d = await createDb({ url: testEnv.pgUrl, schema });
    dbs.push(d);
    return d;
  }

  test("projects a history and a rebuild of every read model gives identical tables", async () => {
    for (const a of contextHistory(20)) await store.append(a);
    for (let n = 0; n < 60; n++) for (const a of changeHistory(n)) await store.append(a);
    const main = await db(schemas[0] as string);
    const projector = createProjector({ nc, store, db: main, projections, batchSize: 97 });
    await projector.start();
    await projector.catchUp();
    await projector.stop();

    const plan = await queriesOf(main).getPlan("c-plan-7");
    assert.equal(plan?.status, "approved");
    assert.equal(plan?.steps.length, 2);
    assert.equal(plan?.steps[0]?.decision, "require_approval");
    assert.equal(plan?.approvals[0]?.status, "granted");
    const ex = await queriesOf(main).getExecution("c-exec-7");
    assert.equal(ex?.status, "succeeded");
    assert.equal(ex?.tool_calls.length, 1);
    assert.equal(ex?.tool_calls[0]?.status, "succeeded");
    assert.equal((await queriesOf(main).listContextServices()).length, 20);
    assert.equal(await queriesOf(main).getPlan("missing"), null);
    assert.equal(await queriesOf(main).getExecution("missing"), null);
    const page1 = await queriesOf(main).listPlans({ limit: 25, environment: "staging" });
    const page2 = await queriesOf(main).listPlans({ limit: 25, environment: "staging", cursor: page1.next_cursor });
    assert.equal(page1.items.length, 25);
    assert.equal(page2.items.length, 15);
    assert.equal(page2.next_cursor, null);
    assert.equal((await queriesOf(main).listExecutions({ planId: "c-plan-3" })).items.length, 1);
    const lag = await projector.lag();
    assert.ok(lag.every((l) => l.events_behind === 0 && l.ms_behind === 0));

    const before = await snapshot(schemas[0] as string);
    assert.equal(before.plans?.length, 60);
    await projector.rebuild();
    assert.deepEqual(await snapshot(schemas[0] as string), before);
    await projector.rebuild(["executions"]);
    assert.deepEqual(await snapshot(schemas[0] as string), before);

    // A second database fed from scratch, in one big batch, agrees too.
    const fresh = await db(schemas[1] as string);
    const p2 = createProjector({ nc, store, db: fresh, projections, batchSize: 1000 });
    await p2.start();
    await p2.catchUp();
    await p2.stop();
    assert.deepEqual(await snapshot(schemas[1] as string), before);
  });

  test("a poison event is dead-lettered and the events after it are still projected", async () => {
    const pPrefix = prefixes[2] as string;
    const s = createEventStore({ nc, prefix: pPrefix });
    await s.provision();
    const d = await db(schemas[2] as string);
    const bomb: Projection = {
      name: "bomb",
      tables: [],
      handles: new Set(["plan.failed"]),
      createWriter: () => ({
        reset() {},
        async prepare(_db, events) {
          if (events.some((e) => e.type === "plan.failed")) throw new Error("bomb projection cannot fold plan.failed");
          return [];
        },
      }),
    };
    const history = changeHistory(1, Date.UTC(2026, 0, 1), "x");
    await s.append(history[0] as AnyEvent[]);
    const js = (await s.manager()).jetstream();
    const garbage = await js.publish(s.subjectFor("plan", "x-plan-1"), "this is not an event");
    const failing = await s.append([
      newEvent(
        "plan.failed",
        "x-plan-1",
        { plan_id: "x-plan-1", reasons: ["nope"] },
        {
          actor: { kind: "system", id: "test", roles: [] },
          correlation_id: "corr-x",
          occurred_at: "2026-01-01T00:00:00.500Z",
        },
      ),
    ]);
    for (const a of history.slice(1)) await s.append(a);
    const projector = createProjector({
      nc,
      store: s,
      db: d,
      projections: [...projections, bomb],
      retryBackoffMs: [10, 20],
    });
    await projector.start();
    await projector.catchUp();
    await projector.stop();
    const letters = await queriesOf(d).listDeadLetters();
    assert.deepEqual(
      letters.map((l) => [l.consumer, l.seq, l.reason]),
      [
        ["projector", garbage.seq, "decode_error"],
        ["projector:bomb", failing.seqs[0], "handler_failed"],
      ],
    );
    // The failing event still reached the other read models, and everything after it was projected.
    assert.equal((await queriesOf(d).getExecution("x-exec-1"))?.status, "succeeded");
    assert.equal((await queriesOf(d).getPlan("x-plan-1"))?.status, "approved");
    const dlq = await s.deadLetters();
    assert.deepEqual(
      dlq.map((l) => l.seq),
      [garbage.seq, failing.seqs[0]],
    );
  });

  test("SIGKILL mid-batch under load, restart: read models equal a fresh rebuild", async () => {
    const kPrefix = prefixes[1] as string;
    const kSchema = schemas[3] as string;
    const s = createEventStore({ nc, prefix: kPrefix });
    await s.provision();
    const d = await db(kSchema);
    const env = {
      ...process.env,
      ...natsEnv(),
      WHEELHOUSE_NATS__PREFIX: kPrefix,
      WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
      WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: kSchema,
      WHEELHOUSE_LOG__LEVEL: "warn",
      WHEELHOUSE_LOG__FORMAT: "json",
    };
    const spawnProjector = (): ChildProcess =>
      spawn(process.execPath, ["--import", "tsx", "services/projector/main.ts"], {
        cwd: ROOT,
        env,
        stdio: ["ignore", "inherit", "inherit"],
      });
    const checkpoint = async () =>
      Number((await d.pool.oneFirst(sql.unsafe`SELECT COALESCE(MIN(last_seq), 0) FROM projection_checkpoints`)) ?? 0);

    // Load: appends keep coming while the projector runs, is killed and comes back.
    let n = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        const batch = changeHistory(n++, Date.UTC(2026, 0, 1), "k");
        await Promise.all(batch.map((a) => s.append(a)));
      }
    })();
    await waitFor("first events", async () => (await s.lastSeq()) > 2000, { timeoutMs: 30_000 });
    let child = spawnProjector();
    let exited = new Promise((r) => child.once("exit", r));
    await waitFor("projector mid-stream", async () => (await checkpoint()) > 500, { timeoutMs: 30_000 });
    child.kill("SIGKILL");
    await exited;
    const atKill = await checkpoint();
    await waitFor("more events after the kill", async () => (await s.lastSeq()) > atKill + 3000, { timeoutMs: 30_000 });
    child = spawnProjector();
    exited = new Promise((r) => child.once("exit", r));
    await waitFor("projector resumed", async () => (await checkpoint()) > atKill, { timeoutMs: 30_000 });
    producing = false;
    await producer;
    const last = await s.lastSeq();
    await waitFor("projector caught up", async () => (await checkpoint()) >= last, { timeoutMs: 60_000 });
    child.kill("SIGTERM");
    assert.equal(await exited, 0);

    const fresh = await db(schemas[4] as string);
    const p2 = createProjector({ nc, store: s, db: fresh, projections });
    await p2.start();
    await p2.catchUp();
    await p2.stop();
    const a = await snapshot(kSchema);
    const b = await snapshot(schemas[4] as string);
    assert.ok((a.plans?.length ?? 0) >= 300, `only ${a.plans?.length} plans`);
    assert.deepEqual(a, b);
  });

  test("every stream message has an audit record, dead letters included, and rebuilds reproduce the chain", async () => {
    const aPrefix = prefixes[3] as string;
    const aSchema = schemas[5] as string;
    const s = createEventStore({ nc, prefix: aPrefix });
    await s.provision();
    const d = await db(aSchema);
    const history = changeHistory(1, Date.UTC(2026, 0, 1), "a");
    await s.append(history[0] as AnyEvent[]);
    const js = (await s.manager()).jetstream();
    const garbage = await js.publish(s.subjectFor("plan", "a-plan-1"), "this is not an event");
    const invalid = await js.publish(
      s.subjectFor("plan", "a-plan-1"),
      JSON.stringify({ id: "bad-1", type: "plan.failed", actor: { kind: "user", id: "mallory", roles: [] } }),
    );
    for (const a of history.slice(1)) await s.append(a);
    for (let n = 2; n < 30; n++) for (const a of changeHistory(n, Date.UTC(2026, 0, 1), "a")) await s.append(a);
    const projector = createProjector({ nc, store: s, db: d, projections, batchSize: 50 });
    await projector.start();
    await projector.catchUp();

    const pool = schemaPool(aSchema);
    const chain = async () =>
      (
        await pool.query<{ row: string }>(
          "SELECT row(seq, event_id, event_seq, outcome, prev_hash, hash, record)::text AS row FROM audit_events ORDER BY seq",
        )
      ).rows.map((r) => r.row);
    try {
      const last = await s.lastSeq();
      const { rows } = await pool.query<{ event_seq: string; outcome: string | null; actor_id: string }>(
        "SELECT event_seq, outcome, actor_id FROM audit_events ORDER BY seq",
      );
      assert.deepEqual(
        rows.map((r) => Number(r.event_seq)),
        Array.from({ length: last }, (_, i) => i + 1),
        "one record per stream message, in stream order, no holes",
      );
      const lettered = rows.filter((r) => r.outcome === "dead_lettered");
      assert.deepEqual(
        lettered.map((r) => Number(r.event_seq)),
        [garbage.seq, invalid.seq],
      );
      assert.equal(lettered[1]?.actor_id, "mallory", "what could be read of the envelope is recorded");
      const verified = await verifyAuditChain(pool);
      assert.equal(verified.ok, true, JSON.stringify(verified.failure));
      assert.equal(verified.checked, last);
      assert.deepEqual(
        (await queriesOf(d).listDeadLetters()).map((l) => l.seq),
        [garbage.seq, invalid.seq],
      );

      const before = await chain();
      const readModels = await snapshot(aSchema);
      await projector.rebuild();
      assert.deepEqual(
        await chain(),
        before,
        "TRUNCATE passes the append-only trigger and the chain comes back identical",
      );
      assert.deepEqual(await snapshot(aSchema), readModels);
      await projector.rebuild(["audit"]);
      assert.deepEqual(await chain(), before);
      await projector.stop();
      await assert.rejects(pool.query("DELETE FROM audit_events WHERE seq = 1"), /append-only/);

      // Another database fed from scratch in other batch sizes: the same chain, hash for hash.
      const fresh = await db(schemas[6] as string);
      const p2 = createProjector({ nc, store: s, db: fresh, projections, batchSize: 7 });
      await p2.start();
      await p2.catchUp();
      await p2.stop();
      const freshPool = schemaPool(schemas[6] as string, 1);
      try {
        const { rows: again } = await freshPool.query<{ row: string }>(
          "SELECT row(seq, event_id, event_seq, outcome, prev_hash, hash, record)::text AS row FROM audit_events ORDER BY seq",
        );
        assert.deepEqual(
          again.map((r) => r.row),
          before,
        );
      } finally {
        await freshPool.end();
      }
    } finally {
      await projector.stop();
      await pool.end();
    }
  });

  test("lag is served as Prometheus gauges per projection", async () => {
    const d = dbs[0] as Db;
    const projector = createProjector({ nc, store, db: d, projections });
    const registry = new Registry();
    registerProjectorLagMetrics(registry, () => projector.lag());
    await store.append(changeHistory(999, Date.UTC(2026, 0, 1), "lag")[0] as AnyEvent[]);
    const behind = await registry.getSingleMetricAsString("wheelhouse_projector_lag_events");
    assert.match(behind, /wheelhouse_projector_lag_events\{projection="audit"\} [1-9]/);
    assert.match(await registry.getSingleMetricAsString("wheelhouse_projector_lag_ms"), /projection="plans"\} [1-9]/);
    await projector.start();
    await projector.catchUp();
    await projector.stop();
    const text = await registry.metrics();
    for (const p of projections) {
      assert.match(text, new RegExp(`wheelhouse_projector_lag_events\\{projection="${p.name}"\\} 0\\n`));
      assert.match(text, new RegExp(`wheelhouse_projector_lag_ms\\{projection="${p.name}"\\} 0\\n`));
    }
  });
});

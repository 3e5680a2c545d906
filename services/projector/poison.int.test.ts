/**
 * Kill drill: poison events appended straight to NATS, past the event store
 * (an older writer, another process, a hand-made publish). The projector must
 * dead-letter what is not an event, record what is, clean what Postgres
 * cannot hold, keep every read model moving, and still stop on SIGINT.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type pg from "pg";
import { pino } from "pino";
import { type Actor, newEvent } from "../../events/index.ts";
import { verifyAuditChain } from "../../lib/audit/index.ts";
import { createDb, type Db, sql } from "../../lib/db/index.ts";
import { createEventStore, type EventStore } from "../../lib/eventstore/index.ts";
import { changeHistory } from "../../projections/fixtures.ts";
import { projections } from "../../projections/index.ts";
import { createReadModelQueries } from "../../projections/queries.ts";
import type { Projection } from "../../projections/types.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  natsEnv,
  schemaPool,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";
import { createProjector } from "./projector.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const queriesOf = (d: Db) => createReadModelQueries(d.pool);
const system: Actor = { kind: "system", id: "tool-router", roles: [] };
const encoder = new TextEncoder();

describe("kill drill: poison events appended straight to NATS", () => {
  const prefix = uniqueName("t_poison");
  const schema = prefix;
  let nc: NatsConnection;
  let store: EventStore;
  let db: Db;
  let admin: pg.Pool;
  let child: ChildProcess | null = null;

  before(async () => {
    nc = await connectTestNats();
  });

  after(async () => {
    child?.kill("SIGKILL");
    if (nc) await deleteStreams(nc, prefix);
    await admin?.end();
    await db?.close();
    await dropSchemas(schema);
    await nc?.close();
  });

  test("what is not an event is dead-lettered, NUL and lone surrogates are cleaned, read models move on, SIGINT stops it", async () => {
    store = createEventStore({ nc, prefix });
    await store.provision();
    db = await createDb({ url: testEnv.pgUrl, schema });
    admin = schemaPool(schema);
    const js = jetstream(nc);
    const base = Date.UTC(2026, 0, 1);
    for (const a of changeHistory(1, base, "p")) await store.append(a);

    // The event: a refused tool call whose error quotes the NUL of an annotation key (and a lone surrogate).
    const refused = newEvent(
      "tool_call.completed",
      "p-exec-1",
      {
        execution_id: "p-exec-1",
        tool_call_id: "p-exec-1-t2",
        step_id: "s2",
        status: "refused",
        exit_code: null,
        duration_ms: 0,
        truncated: false,
        error: "ERROR",
      },
      { actor: system, correlation_id: "corr-p-1" },
    );
    const nul = await js.publish(
      store.subjectFor("execution", "p-exec-1"),
      JSON.stringify(refused).replace('"ERROR"', '"annotation key \\"team\\u0000x\\" holds a NUL byte \\ud800"'),
    );
    // A signal whose annotation key holds a NUL.
    const signal = newEvent(
      "signal.received",
      "p-sig-1",
      { signal_id: "p-sig-1", source: "alertmanager", kind: "alert", dedupe_key: "k", summary: "disk full" },
      { actor: system, correlation_id: "corr-p-sig" },
    );
    const keyed = await js.publish(
      store.subjectFor("signal", "p-sig-1"),
      JSON.stringify(signal).replace('"annotations":{}', '"annotations":{"team\\u0000x":"sre"}'),
    );
    // Not JSON: a raw NUL byte inside a string.
    const notJson = await js.publish(
      store.subjectFor("plan", "p-plan-1"),
      Buffer.concat([Buffer.from('{"id":"x","type":"plan.'), Buffer.from([0]), Buffer.from('requested"}')]),
    );
    // JSON, but no valid event (its audit record keeps what it holds, NUL included, so that must be storable too).
    const invalid = await js.publish(
      store.subjectFor("plan", "p-plan-1"),
      encoder.encode(
        '{"id":"bad-1","type":"plan.failed","actor":{"kind":"user","id":"mal\\u0000lory"},"note":"\\udfff"}',
      ),
    );
    // A type this build does not know.
    const unknown = await js.publish(
      store.subjectFor("plan", "p-plan-1"),
      JSON.stringify({ ...signal, id: "u-1", type: "plan.exploded", aggregate_type: "plan", aggregate_id: "p-plan-1" }),
    );
    for (const a of changeHistory(2, base, "p")) await store.append(a);
    const last = await store.lastSeq();

    child = spawn(process.execPath, ["--import", "tsx", "services/projector/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...natsEnv(),
        WHEELHOUSE_NATS__PREFIX: prefix,
        WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
        WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema,
        WHEELHOUSE_LOG__LEVEL: "fatal",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));
    const checkpoints = async () =>
      (await admin.query<{ min: string | null }>("SELECT min(last_seq) AS min FROM projection_checkpoints")).rows[0]
        ?.min;
    await waitFor("every checkpoint past the poison events", async () => Number((await checkpoints()) ?? 0) >= last, {
      timeoutMs: 60_000,
    });

    // The events after the poison ones were projected.
    assert.equal((await queriesOf(db).getPlan("p-plan-2"))?.status, "approved");
    assert.equal((await queriesOf(db).getExecution("p-exec-2"))?.status, "succeeded");
    // The refused call is recorded, its NUL and lone surrogate as U+FFFD.
    const call = (await queriesOf(db).getExecution("p-exec-1"))?.tool_calls.find(
      (t) => t.tool_call_id === "p-exec-1-t2",
    );
    assert.equal(call?.status, "refused");
    assert.equal(call?.error, 'annotation key "team\uFFFDx" holds a NUL byte \uFFFD');
    // What is not an event is dead-lettered, in Postgres and on the DLQ stream.
    const letters = await queriesOf(db).listDeadLetters();
    assert.deepEqual(
      letters.map((l) => [l.consumer, l.seq, l.reason]),
      [
        ["projector", notJson.seq, "decode_error"],
        ["projector", invalid.seq, "decode_error"],
      ],
    );
    assert.deepEqual(
      (await store.deadLetters()).map((l) => l.seq),
      [notJson.seq, invalid.seq],
    );
    // The audit trail has a record of every stream message, and the chain holds.
    const { rows } = await admin.query<{ event_seq: string; outcome: string | null; payload: unknown }>(
      "SELECT event_seq, outcome, payload FROM audit_events ORDER BY seq",
    );
    assert.deepEqual(
      rows.map((r) => Number(r.event_seq)),
      Array.from({ length: last }, (_, i) => i + 1),
    );
    const bySeq = new Map(rows.map((r) => [Number(r.event_seq), r]));
    for (const seq of [notJson.seq, invalid.seq, unknown.seq]) assert.equal(bySeq.get(seq)?.outcome, "dead_lettered");
    assert.deepEqual((bySeq.get(keyed.seq)?.payload as { annotations?: unknown } | undefined)?.annotations, {
      "team\uFFFDx": "sre",
    });
    assert.notEqual(bySeq.get(nul.seq)?.outcome, "dead_lettered");
    const verified = await verifyAuditChain(admin);
    assert.equal(verified.ok, true, JSON.stringify(verified.failure));

    // A normal event after all that is projected as it comes, and SIGINT ends the process promptly.
    const [late] = changeHistory(3, base, "p");
    await store.append(late ?? []);
    await waitFor("the next plan to be projected", async () => (await queriesOf(db).getPlan("p-plan-3")) !== null);
    const sent = Date.now();
    child.kill("SIGINT");
    assert.equal(await exited, 0);
    assert.ok(Date.now() - sent < 10_000, `exited ${Date.now() - sent} ms after SIGINT`);
    child = null;
  });

  test("whatever the error, an event that cannot be stored, not even as a dead letter, is passed after bounded retries", async () => {
    const p2 = uniqueName("t_poison_lr");
    const s2 = createEventStore({ nc, prefix: p2 });
    await s2.provision();
    const d2 = await createDb({ url: testEnv.pgUrl, schema: p2 });
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    // A read model that can store nothing about plan q-plan-x, not even that it could not.
    const stubborn: Projection = {
      name: "stubborn",
      tables: [],
      handles: new Set(["plan.requested"]),
      recordsUnprojected: true,
      createWriter: () => ({
        reset() {},
        async prepare(_db, events, missed) {
          if (events.some((e) => e.aggregate_id === "q-plan-x") || missed.some((m) => m.subject.endsWith(".q-plan-x")))
            throw new Error("stubborn cannot store q-plan-x");
          return [];
        },
      }),
    };
    const projector = createProjector({
      nc,
      store: s2,
      db: d2,
      projections: [...projections, stubborn],
      retryBackoffMs: [10, 20],
      logger,
    });
    try {
      // And no dead letter of it can be stored either: everything but the last resort is refused.
      await d2.pool.query(
        sql.unsafe`ALTER TABLE dead_letters ADD CONSTRAINT only_last_resort
                   CHECK (consumer <> 'projector:stubborn' OR reason = 'store_failed')`,
      );
      for (const a of changeHistory(1, Date.UTC(2026, 0, 1), "q")) await s2.append(a);
      const [requested] = changeHistory(0, Date.UTC(2026, 0, 1), "q")[0] ?? [];
      assert.ok(requested);
      const x = await s2.append([
        { ...requested, id: "q-x", aggregate_id: "q-plan-x", payload: { ...requested.payload, plan_id: "q-plan-x" } },
      ] as never);
      for (const a of changeHistory(2, Date.UTC(2026, 0, 1), "q")) await s2.append(a);
      await projector.start();
      await projector.catchUp(60_000);

      assert.equal((await queriesOf(d2).getPlan("q-plan-2"))?.status, "approved", "the events after it were projected");
      const letters = await queriesOf(d2).listDeadLetters();
      const mine = letters.filter((l) => l.seq === x.seqs[0]);
      assert.ok(mine.length > 0, JSON.stringify(letters));
      assert.ok(
        mine.every((l) => l.reason === "store_failed" && l.data === ""),
        JSON.stringify(mine),
      );
      assert.match(
        mine.find((l) => l.consumer === "projector:stubborn")?.error ?? "",
        /stubborn cannot store q-plan-x/,
      );
      assert.match(mine[0]?.error ?? "", /sha256 [0-9a-f]{64}/);
      assert.ok(lines.some((l) => l.includes("recorded without it")));
      assert.equal(
        lines.filter((l) => l.includes("projector loop failed")).length,
        0,
        "never a restart from the checkpoints while Postgres answers",
      );
    } finally {
      await projector.stop();
      await deleteStreams(nc, p2);
      await d2.close();
      await dropSchemas(p2);
    }
  });
});

/**
 * Projection benchmark: `node --import tsx scripts/bench/projection.ts [changes=7700]`.
 * 1. Catch-up: the projector folds ~100k events (13 per change) into the read
 *    models, vs a raw batched INSERT (500 rows per statement, one transaction
 *    each, on a plain node-postgres client) of exactly the rows it ended up
 *    writing, audit_events included with their precomputed hashes and
 *    hashed text, into an empty copy of the schema. The baseline writes each
 *    row once and computes nothing; the projector decodes and validates every
 *    event, folds, canonicalizes, hashes, and writes a row again each time a
 *    later batch changes it. Both commit with `synchronous_commit = off`, the
 *    projector's default (see ProjectorDeps.durableCommit).
 * 2. Live lag: 1,000 events/s appended for 10 s while the projector follows;
 *    lag = commit time of the batch holding an event − its occurred_at.
 */
import pg from "pg";
import { newEvent } from "../../events/index.ts";
import { createDb } from "../../lib/db/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import { changeHistory, EVENTS_PER_CHANGE } from "../../projections/fixtures.ts";
import { projections } from "../../projections/index.ts";
import { type AppliedBatch, createProjector } from "../../services/projector/projector.ts";
import { connectTestNats, deleteStreams, dropSchemas, testEnv } from "../../test/support/index.ts";

const CHANGES = Number(process.argv[2] ?? 7700);
const PG_URL = testEnv.pgUrl;
const prefix = "bench_proj";
const schemaA = "bench_proj_fold";
const schemaB = "bench_proj_raw";
const schemaC = "bench_proj_live";

const nc = await connectTestNats();
const store = createEventStore({ nc, prefix });
await deleteStreams(nc, prefix);
await store.provision();
await dropSchemas(schemaA, schemaB, schemaC);

// Load the stream: 64 appends in flight.
const t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: 64 }, async () => {
    for (;;) {
      const n = next++;
      if (n >= CHANGES) return;
      for (const a of changeHistory(n, Date.UTC(2026, 0, 1), "b")) await store.append(a);
    }
  }),
);
const total = await store.lastSeq();
console.log(`loaded ${total} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// 1. Catch-up. First the backbone's own read models alone, then everything registered (audit included).
const core = projections.filter((p) => ["plans", "executions", "evidence", "context"].includes(p.name));
const dbCore = await createDb({ url: PG_URL, schema: `${schemaA}_core` });
const coreProjector = createProjector({ nc, store, db: dbCore, projections: core, batchSize: 500 });
const tc = performance.now();
await coreProjector.start();
await coreProjector.catchUp(10 * 60_000);
const coreSecs = (performance.now() - tc) / 1000;
await coreProjector.stop();
await dbCore.close();
await dropSchemas(`${schemaA}_core`);

const dbA = await createDb({ url: PG_URL, schema: schemaA });
const projector = createProjector({ nc, store, db: dbA, projections, batchSize: 500 });
const t1 = performance.now();
await projector.start();
await projector.catchUp(10 * 60_000);
const foldSecs = (performance.now() - t1) / 1000;
await projector.stop();

const dbB = await createDb({ url: PG_URL, schema: schemaB });
// The raw baseline: every row of every table the projector wrote (audit_events with its hashes and hashed
// text), read back as text and inserted as it is, 500 rows per INSERT ... SELECT FROM unnest(...).
const rawClient = new pg.Client({ connectionString: PG_URL });
await rawClient.connect();
await rawClient.query("SET synchronous_commit = off"); // as the projector commits
const tables = projections.flatMap((p) => p.tables);
const data: { table: string; text: string; columns: string[]; rows: Record<string, string | null>[] }[] = [];
let rowCount = 0;
const rowsPerTable: string[] = [];
for (const table of tables) {
  const types = new Map(
    (
      await rawClient.query<{ column_name: string; udt_name: string }>(
        "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
        [schemaA, table],
      )
    ).rows.map((r) => [r.column_name, r.udt_name]),
  );
  const { rows, fields } = await rawClient.query({
    text: `SELECT * FROM "${schemaA}"."${table}"`,
    types: { getTypeParser: () => (v: string) => v },
  });
  const columns = fields.map((f) => f.name);
  const text = `INSERT INTO "${schemaB}"."${table}" (${columns.join(", ")})
    SELECT ${columns.map((c) => (types.get(c) === "jsonb" ? `${c}::jsonb` : c)).join(", ")}
    FROM unnest(${columns.map((c, i) => `$${i + 1}::${types.get(c) === "jsonb" ? "text" : types.get(c)}[]`).join(", ")})
    AS t(${columns.join(", ")})`;
  data.push({ table, text, columns, rows: rows as Record<string, string | null>[] });
  rowCount += rows.length;
  if (rows.length > 0) rowsPerTable.push(`${table} ${rows.length}`);
}
const t2 = performance.now();
for (const { text, columns, rows } of data) {
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await rawClient.query(
      text,
      columns.map((c) => chunk.map((r) => r[c] ?? null)),
    );
  }
}
const rawSecs = (performance.now() - t2) / 1000;
await rawClient.end();
// ~200 MB of baseline rows: let them go, or the live phase measures this process's GC of them.
data.length = 0;

// 2. Live lag at 1,000 events/s.
const dbC = await createDb({ url: PG_URL, schema: schemaC });
const lags: number[] = [];
// BENCH_LIVE=core follows with the backbone's read models only (to separate the audit projection's cost).
const liveProjections = process.env.BENCH_LIVE === "core" ? core : projections;
const live = createProjector({
  nc,
  store,
  db: dbC,
  projections: liveProjections,
  batchSize: 500,
  onApplied: (b: AppliedBatch) => {
    if (b.firstSeq > total) for (const at of b.occurredAt) lags.push(b.committedAt - at);
  },
});
await live.start();
await live.catchUp(10 * 60_000);
const RATE = 1000;
const SECONDS = 10;
const actor = { kind: "user" as const, id: "alice", roles: ["operator" as const] };
const liveStart = Date.now();
let sent = 0;
const inflight: Promise<unknown>[] = [];
while (sent < RATE * SECONDS) {
  const due = Math.floor(((Date.now() - liveStart) / 1000) * RATE);
  while (sent < due && sent < RATE * SECONDS) {
    const id = `live-${sent++}`;
    const e = newEvent(
      "plan.requested",
      id,
      { plan_id: id, intent: "scale", source: "api" },
      { actor, correlation_id: id },
    );
    inflight.push(store.append([e]));
  }
  await new Promise((r) => setTimeout(r, 1));
}
await Promise.all(inflight);
await live.catchUp(60_000);
await live.stop();
lags.sort((a, b) => a - b);
const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor(lags.length * p))] ?? Number.NaN;

const foldRate = total / foldSecs;
const rawRate = total / rawSecs;
const table = [
  ["measure", "value", "goal"],
  ["events in stream", String(total), `${CHANGES} changes x ${EVENTS_PER_CHANGE}`],
  [
    `catch-up, ${core.map((p) => p.name).join("+")}`,
    `${coreSecs.toFixed(2)} s = ${(total / coreSecs).toFixed(0)} events/s`,
    ">= 20,000 events/s",
  ],
  [
    `catch-up, all registered (${projections.map((p) => p.name).join("+")})`,
    `${foldSecs.toFixed(2)} s = ${foldRate.toFixed(0)} events/s`,
    ">= 20,000 events/s",
  ],
  [
    "raw batched INSERT of the same rows (audit incl.)",
    `${rawSecs.toFixed(2)} s (${rowCount} rows) = ${rawRate.toFixed(0)} events/s eq.`,
    "",
  ],
  [
    "projector / raw (core, all)",
    `${(total / coreSecs / rawRate).toFixed(2)}x, ${(foldRate / rawRate).toFixed(2)}x`,
    ">= 0.5x",
  ],
  ["live: events appended", `${lags.length} at ${RATE}/s into ${liveProjections.map((p) => p.name).join("+")}`, ""],
  ["live lag p50 / p99 / max", `${pct(0.5)} / ${pct(0.99)} / ${lags[lags.length - 1]} ms`, "p99 < 50 ms"],
];
const w = [0, 1, 2].map((i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
console.log(`raw baseline rows: ${rowsPerTable.join(", ")} (exactly what the projector wrote, precomputed)`);
for (const [i, r] of table.entries()) {
  console.log(`| ${r.map((c, j) => c.padEnd(w[j] ?? 0)).join(" | ")} |`);
  if (i === 0) console.log(`|${w.map((x) => "-".repeat(x + 2)).join("|")}|`);
}

await dbA.close();
await dbB.close();
await dbC.close();
await dropSchemas(schemaA, schemaB, schemaC);
await deleteStreams(nc, prefix);
await nc.close();

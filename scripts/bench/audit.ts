/**
 * Audit replay benchmark.
 *
 *   node --import tsx scripts/bench/audit.ts [--events 1000000] [--target 2000] [--keep]
 *
 * Setup: a fresh events stream (`bench_audit_<id>_EVENTS`, provisioned by the
 * event store: file storage, `persist_mode: async` to make the setup fast)
 * filled with `--events` valid events by raw core publishes; `--target`
 * of them are on the one execution the as-of query asks about, spread
 * evenly through the stream, the rest on 10,000 other executions.
 *
 * Measured, in one run over that same stream:
 * 1. as-of: `executionAsOf(id, time)` (JetStream direct gets by subject +
 *    decode + the read model's fold) vs a raw ordered consumer filtered to
 *    the same subject (messages received, nothing decoded);
 * 2. the audit projection: `appendAuditEvents` over the whole stream, in
 *    transactions of 5,000 (informative);
 * 3. full export: `exportAuditEvents()` (Postgres pages + sha256 of every
 *    record's hashed text + link checks + NDJSON lines), and again with the
 *    column check, vs a raw ordered consumer over the whole stream (messages
 *    received, nothing decoded); then `verifyAudit()` (informative).
 * Rates are events per second of wall time. The goal: as-of and export at
 * least 0.5x the raw consumer; as-of over 1M events under 10 s.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { appendAuditEvents, createAuditQueries } from "../../lib/audit/index.ts";
import { migrate } from "../../lib/db/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import { createEvidenceStore } from "../../lib/evidence/index.ts";
import { readModelFolds } from "../../projections/replay.ts";
import { connectTestNats, deleteStreams, dropSchemas, testEnv } from "../../test/support/index.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    target: { type: "string", default: "2000" },
    keep: { type: "boolean", default: false },
  },
});
const TOTAL = Number(args.events);
const TARGET = Number(args.target);
const PG_URL = testEnv.pgUrl;

const id = randomBytes(3).toString("hex");
const prefix = `bench_audit_${id}`;
const schema = `bench_audit_${id}`;
const targetId = `exec-target-${id}`;
const actor = { kind: "service" as const, id: "orchestrator", roles: [] };

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const report: Record<string, unknown> = { events: TOTAL, target_events: TARGET };

/**
 * The i-th event on an execution: requested, then tool calls started/completed in turn.
 * Built as plain objects (the event store's decoder validates every one of them on read);
 * `newEvent` validation of a million payloads would dominate the setup.
 */
function executionEvent(executionId: string, i: number, occurredAt: string): Record<string, unknown> {
  const envelope = {
    id: uuidv7(),
    schema_version: 1,
    aggregate_type: "execution",
    aggregate_id: executionId,
    occurred_at: occurredAt,
    actor,
    correlation_id: `corr-${executionId}`,
    causation_id: null,
  };
  if (i === 0) {
    return {
      ...envelope,
      type: "execution.requested",
      payload: { execution_id: executionId, plan_id: `plan-${executionId}`, revision: 1, dry_run: false },
    };
  }
  const call = `tc-${Math.floor((i - 1) / 2)}`;
  if (i % 2 === 1) {
    return {
      ...envelope,
      type: "tool_call.started",
      payload: {
        execution_id: executionId,
        tool_call_id: call,
        step_id: "s1",
        action_id: "kubectl.scale",
        argv: ["kubectl", "scale", "deployment/checkout", `--replicas=${i % 7}`, "-n", "shop"],
        binary: "kubectl",
        via: "cli",
        dry_run: false,
      },
    };
  }
  return {
    ...envelope,
    type: "tool_call.completed",
    payload: {
      execution_id: executionId,
      tool_call_id: call,
      step_id: "s1",
      status: "succeeded",
      exit_code: 0,
      duration_ms: 100 + (i % 50),
      truncated: false,
      stdout_sha256: "ab".repeat(32),
    },
  };
}

async function main() {
  const nc = await connectTestNats("admin", { name: "bench-audit" });
  // Setup speed only: the stream is written with `persist_mode: async` (fsync per message would make the
  // setup of 1M events take minutes); reads, which is all that is measured, do not depend on it.
  const store = createEventStore({ nc, prefix, streams: { events: "fast" } });
  await store.provision();
  const stream = store.streams.events;
  const js = jetstream(nc);
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4, options: `-c search_path=${schema}` });
  try {
    // ---- setup: publish TOTAL events fast (core publishes, no per-message ack; the count is checked after)
    const every = Math.max(1, Math.floor(TOTAL / TARGET));
    const counters = new Map<string, number>();
    const encoder = new TextEncoder();
    const jsm = await store.manager();
    const stored = async () => (await jsm.streams.info(stream)).state.messages;
    const settle = async (count: number) => {
      const deadline = Date.now() + 120_000;
      while ((await stored()) < count) {
        if (Date.now() > deadline) throw new Error(`stream holds ${await stored()} of ${count} events`);
        await nc.flush();
      }
    };
    let targetCount = 0;
    let midTime = "";
    const t0 = performance.now();
    for (let n = 0; n < TOTAL; n++) {
      const onTarget = n % every === 0 && targetCount < TARGET;
      const aggregate = onTarget ? targetId : `exec-${n % 10_000}-${id}`;
      const i = counters.get(aggregate) ?? 0;
      counters.set(aggregate, i + 1);
      if (onTarget) targetCount++;
      const event = executionEvent(aggregate, i, new Date().toISOString());
      nc.publish(store.subjectFor("execution", aggregate), encoder.encode(JSON.stringify(event)));
      if (n % 10_000 === 9_999) await nc.flush();
      if (n === Math.floor(TOTAL / 2)) {
        await settle(n + 1);
        midTime = new Date().toISOString();
        while (Date.now() <= Date.parse(midTime)); // the next event lands in a later millisecond
      }
    }
    await settle(TOTAL);
    const endTime = new Date().toISOString();
    const publishMs = performance.now() - t0;
    const lastSeq = await store.lastSeq();
    report.setup_publish = {
      events: lastSeq,
      seconds: +(publishMs / 1000).toFixed(2),
      per_second: rate(lastSeq, publishMs),
    };
    console.log(
      `setup: published ${lastSeq} events (${targetCount} on ${targetId}) in ${secs(publishMs)} = ${rate(lastSeq, publishMs)}/s`,
    );

    await migrate({ url: PG_URL, schema });
    const evidenceStore = createEvidenceStore({
      kind: "local",
      path: `/tmp/${prefix}`,
      endpoint: "http://127.0.0.1:9322",
      bucket: "unused",
      region: "us-east-1",
      access_key: "env:X",
      secret_key: "env:X",
      retention_days: 0,
    });
    const audit = createAuditQueries({
      db: pool,
      eventStore: store,
      evidenceStore,
      folds: readModelFolds,
      pageSize: 10_000,
    });

    // ---- 1. as-of vs raw ordered consumer on the same subject
    const rawSubject = async () => {
      const consumer = await js.consumers.get(stream, { filter_subjects: store.subjectFor("execution", targetId) });
      const t = performance.now();
      const messages = await consumer.consume({ max_messages: 1000 });
      let n = 0;
      for await (const _m of messages) {
        if (++n === targetCount) break;
      }
      await messages.close();
      return performance.now() - t;
    };
    const asOf = async (time: string) => {
      const t = performance.now();
      const result = await audit.executionAsOf(targetId, time);
      return {
        ms: performance.now() - t,
        events: result?.events ?? 0,
        status: result?.state.execution.status,
        calls: Object.keys(result?.state.toolCalls ?? {}).length,
      };
    };
    await rawSubject(); // warm the server's caches the same way for both
    const asOfRuns = [];
    const rawRuns = [];
    for (let r = 0; r < 3; r++) {
      asOfRuns.push(await asOf(endTime));
      rawRuns.push(await rawSubject());
    }
    // The same query in its two parts: the replay (JetStream reads + decoding) and the read model's fold.
    const tr = performance.now();
    const replayed = await store.readAggregate("execution", targetId, { upTo: { time: endTime } });
    const replayMs = performance.now() - tr;
    const tf = performance.now();
    readModelFolds.execution(replayed);
    const foldMs = performance.now() - tf;
    const best = Math.min(...asOfRuns.map((x) => x.ms));
    const bestRaw = Math.min(...rawRuns);
    const mid = await asOf(midTime);
    report.as_of = {
      events_replayed: asOfRuns[0]?.events,
      tool_calls_folded: asOfRuns[0]?.calls,
      runs_ms: asOfRuns.map((x) => Math.round(x.ms)),
      best_seconds: +(best / 1000).toFixed(3),
      per_second: rate(targetCount, best),
      raw_ordered_consumer_same_subject_ms: rawRuns.map(Math.round),
      raw_per_second: rate(targetCount, bestRaw),
      ratio_vs_raw: +(bestRaw / best).toFixed(2),
      replay_only_ms: Math.round(replayMs),
      replay_only_per_second: rate(replayed.length, replayMs),
      replay_only_ratio_vs_raw: +(bestRaw / replayMs).toFixed(2),
      fold_only_ms: Math.round(foldMs),
      mid_stream: { events: mid.events, ms: Math.round(mid.ms) },
    };
    console.log(
      `as-of over ${lastSeq} events: ${asOfRuns[0]?.events} events of ${targetId} replayed and folded in ${secs(best)} (${rate(targetCount, best)}/s); raw ordered consumer on the subject ${secs(bestRaw)} (${rate(targetCount, bestRaw)}/s); ratio ${(bestRaw / best).toFixed(2)}x (replay alone ${Math.round(replayMs)} ms = ${(bestRaw / replayMs).toFixed(2)}x, fold alone ${Math.round(foldMs)} ms); mid-stream as-of ${mid.events} events in ${secs(mid.ms)}`,
    );

    // ---- 2. the audit projection over the whole stream
    const t2 = performance.now();
    let projected = 0;
    for await (const batch of store.readStream({ batchSize: 5000 })) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await appendAuditEvents(client, batch as AnyRecordedEvent[]);
        await client.query("COMMIT");
      } finally {
        client.release();
      }
      projected += batch.length;
    }
    const projectMs = performance.now() - t2;
    report.audit_projection = {
      events: projected,
      seconds: +(projectMs / 1000).toFixed(2),
      per_second: rate(projected, projectMs),
    };
    console.log(
      `audit projection: ${projected} records chained and written in ${secs(projectMs)} (${rate(projected, projectMs)}/s)`,
    );

    // ---- 3. full export vs raw ordered consumer over the whole stream
    const rawAll = async () => {
      const consumer = await js.consumers.get(stream);
      const t = performance.now();
      const messages = await consumer.consume({ max_messages: 10_000 });
      let n = 0;
      for await (const _m of messages) {
        if (++n === lastSeq) break;
      }
      await messages.close();
      return performance.now() - t;
    };
    const exportAll = async (checkColumns = false) => {
      const t = performance.now();
      let bytes = 0;
      let last = "";
      for await (const chunk of audit.exportAuditEvents({}, { checkColumns })) {
        bytes += chunk.length;
        last = chunk;
      }
      const proof = JSON.parse(last.trimEnd().split("\n").at(-1) as string) as { verified: boolean; exported: number };
      return { ms: performance.now() - t, bytes, proof };
    };
    const rawAllMs = await rawAll();
    const exported = await exportAll();
    const rawAllMs2 = await rawAll();
    const rawBest = Math.min(rawAllMs, rawAllMs2);
    const checked = await exportAll(true);
    const tv = performance.now();
    const verified = await audit.verifyAudit();
    const verifyMs = performance.now() - tv;
    report.export = {
      records: exported.proof.exported,
      verified: exported.proof.verified,
      megabytes: +(exported.bytes / 1e6).toFixed(1),
      seconds: +(exported.ms / 1000).toFixed(2),
      per_second: rate(exported.proof.exported, exported.ms),
      raw_ordered_consumer_seconds: [rawAllMs, rawAllMs2].map((x) => +(x / 1000).toFixed(2)),
      raw_per_second: rate(lastSeq, rawBest),
      ratio_vs_raw: +(rawBest / exported.ms).toFixed(2),
      with_column_check: {
        seconds: +(checked.ms / 1000).toFixed(2),
        per_second: rate(checked.proof.exported, checked.ms),
        ratio_vs_raw: +(rawBest / checked.ms).toFixed(2),
      },
      verify_audit: { ok: verified.ok, checked: verified.chain.checked, seconds: +(verifyMs / 1000).toFixed(2) },
    };
    console.log(
      `export: ${exported.proof.exported} records (verified=${exported.proof.verified}, ${(exported.bytes / 1e6).toFixed(1)} MB NDJSON) in ${secs(exported.ms)} (${rate(exported.proof.exported, exported.ms)}/s); raw ordered consumer over the stream ${secs(rawBest)} (${rate(lastSeq, rawBest)}/s); ratio ${(rawBest / exported.ms).toFixed(2)}x`,
    );
    console.log(JSON.stringify(report, null, 2));
  } finally {
    if (!args.keep) {
      await deleteStreams(nc, prefix);
    }
    await pool.end();
    if (!args.keep) await dropSchemas(schema);
    await nc.close();
  }
}

await main();

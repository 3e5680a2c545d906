/**
 * Append benchmark: `node --import tsx scripts/bench/append.ts [events=4000]`.
 * `EventStore.append` vs raw `js.publish` (same process, same stream settings,
 * same bytes, same Nats-Msg-Id) for safe and fast durability, sequential and
 * with 32 appends in flight. Ratios come from one run.
 */
import { randomUUID } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { type AnyEvent, newEvent } from "../../events/index.ts";
import { createEventStore, type Durability } from "../../lib/eventstore/index.ts";
import { connectTestNats, deleteStreams } from "../../test/support/index.ts";

const N = Number(process.argv[2] ?? 4000);
const nc = await connectTestNats();
const js = jetstream(nc);
const encoder = new TextEncoder();

function events(count: number, tag: string): AnyEvent[] {
  return Array.from({ length: count }, (_, i) =>
    newEvent(
      "plan.requested",
      `${tag}-${i}`,
      { plan_id: `${tag}-${i}`, intent: "scale checkout to 3 replicas in staging", source: "api", service: "checkout" },
      { actor: { kind: "user", id: "alice", roles: ["operator"] }, correlation_id: randomUUID() },
    ),
  );
}

interface Result {
  readonly perSec: number;
  readonly p50: number;
  readonly p99: number;
}

async function run(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<Result> {
  const lat: number[] = new Array(count);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const t = performance.now();
        await op(i);
        lat[i] = performance.now() - t;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return {
    perSec: count / secs,
    p50: lat[Math.floor(count * 0.5)] ?? 0,
    p99: lat[Math.floor(count * 0.99)] ?? 0,
  };
}

const rows: string[][] = [];
for (const durability of ["safe", "fast"] as Durability[]) {
  const prefix = `bench_append_${durability}`;
  const store = createEventStore({ nc, prefix, streams: { events: durability } });
  await deleteStreams(nc, prefix);
  const jsm = await store.manager();
  await store.provision();
  const info = await jsm.streams.info(store.streams.events);
  const persist = (info.config as unknown as { persist_mode?: string }).persist_mode ?? "default";
  for (const concurrency of [1, 32]) {
    // Warm up both paths, then alternate rounds so neither gets the better half of the disk's mood.
    const warm = events(200, `w${concurrency}`);
    await run(200, concurrency, (i) => store.append([warm[i] as AnyEvent], { idempotencyKey: randomUUID() }));
    const agg = { raw: [] as Result[], append: [] as Result[] };
    for (let round = 0; round < 2; round++) {
      const evRaw = events(N / 2, `r${concurrency}-${round}`);
      const evApp = events(N / 2, `a${concurrency}-${round}`);
      const bytes = evRaw.map((e) => encoder.encode(JSON.stringify(e)));
      agg.raw.push(
        await run(N / 2, concurrency, (i) =>
          js.publish(store.subjectFor("plan", (evRaw[i] as AnyEvent).aggregate_id), bytes[i], {
            msgID: `${randomUUID()}:0`,
          }),
        ),
      );
      agg.append.push(
        await run(N / 2, concurrency, (i) => store.append([evApp[i] as AnyEvent], { idempotencyKey: randomUUID() })),
      );
    }
    const avg = (xs: Result[], k: keyof Result) => xs.reduce((s, x) => s + x[k], 0) / xs.length;
    const raw = { perSec: avg(agg.raw, "perSec"), p50: avg(agg.raw, "p50"), p99: avg(agg.raw, "p99") };
    const app = { perSec: avg(agg.append, "perSec"), p50: avg(agg.append, "p50"), p99: avg(agg.append, "p99") };
    for (const [name, r] of [
      ["js.publish (raw)", raw],
      ["store.append", app],
    ] as const) {
      rows.push([
        `${durability} (persist_mode ${persist})`,
        String(concurrency),
        name,
        r.perSec.toFixed(0),
        r.p50.toFixed(2),
        r.p99.toFixed(2),
        name === "store.append" ? `${(app.perSec / raw.perSec).toFixed(2)}x` : "",
      ]);
    }
  }
  await deleteStreams(nc, prefix);
}

// Atomic multi-event appends (safe stream only: async streams refuse batches).
{
  const store = createEventStore({ nc, prefix: "bench_append_batch" });
  await store.provision();
  for (const size of [3, 10]) {
    const n = 500;
    const batches = Array.from({ length: n }, (_, i) =>
      events(size, `b${size}-${i}`).map((e) => ({ ...e, aggregate_id: `b${size}-${i}` })),
    );
    const r = await run(n, 1, (i) =>
      store.append(batches[i] as AnyEvent[], { idempotencyKey: randomUUID(), expectedVersion: 0 }),
    );
    rows.push([
      "safe (atomic batch)",
      "1",
      `append ${size} events`,
      (r.perSec * size).toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      "",
    ]);
  }
  await deleteStreams(nc, store.prefix);
}

const header = ["durability", "in flight", "path", "events/s", "p50 ms", "p99 ms", "append/raw"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
console.log(`append benchmark: ${N} events per path and setting, NATS ${nc.info?.version}`);
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));
await nc.close();

/**
 * Planner benchmark.
 *
 * 1. intent → plan with the template planner, in process: p50/p99 latency and plans/s.
 * 2. With NATS reachable (WH_NATS_URL, default the local stack): intent → `plan.proposed`
 *    appended, through the planner service's handler (read the aggregate, plan, append
 *    with expectedVersion), against the raw append latency measured in the same run.
 *    Goal: p99 added on top of the append under 20 ms.
 *
 *   node --import tsx scripts/bench/planner.ts [iterations]
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { type AnyRecordedEvent, newEvent } from "../../events/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import { createPlanner } from "../../lib/planner/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { createPlannerService } from "../../services/planner/service.ts";
import { connectTestNats, deleteStreams, testEnv } from "../../test/support/index.ts";

const iterations = Number(process.argv[2] ?? 2000);
const natsUrl = testEnv.natsUrl;
const intents = [
  "scale checkout to 6 in staging",
  "deploy checkout v1.4.2 to production",
  "helm upgrade checkout to 2.3.0 with chart shop/checkout in staging",
  "roll back checkout in production",
  "restart checkout in staging",
  "rotate the checkout database password in staging",
  "investigate checkout in production",
];

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const fmt = (xs: number[]) =>
  `p50 ${pct(xs, 50).toFixed(3)} ms  p99 ${pct(xs, 99).toFixed(3)} ms  max ${Math.max(...xs).toFixed(3)} ms`;

const planner = createPlanner({ catalog: loadCatalog() });
for (let i = 0; i < 200; i++) await planner.plan({ intent: intents[i % intents.length] as string, source: "api" });
const planTimes: number[] = [];
const started = performance.now();
for (let i = 0; i < iterations; i++) {
  const t0 = performance.now();
  await planner.plan({ intent: intents[i % intents.length] as string, source: "api" });
  planTimes.push(performance.now() - t0);
}
const elapsed = (performance.now() - started) / 1000;
console.log(`template planner, ${iterations} intents: ${fmt(planTimes)}  ${(iterations / elapsed).toFixed(0)} plans/s`);

let nc: NatsConnection | null = null;
try {
  nc = await connectTestNats("admin", { timeout: 2000 });
} catch {
  console.log(`NATS not reachable at ${natsUrl}: skipping the append comparison`);
}
if (nc) {
  const store = createEventStore({ nc, prefix: `bench_planner_${Date.now().toString(36)}` });
  await store.provision();
  const actor = { kind: "user" as const, id: "bench", roles: [] };
  const n = Math.min(iterations, 1000);
  const rawAppend: number[] = [];
  const endToEnd: number[] = [];
  const service = createPlannerService({ store, planner });
  for (let i = 0; i < n + 50; i++) {
    // Raw append: one event on a fresh aggregate, expectedVersion none.
    const rawId = `raw_${i}`;
    const raw = newEvent(
      "plan.requested",
      rawId,
      { plan_id: rawId, intent: "x", source: "api" },
      { actor, correlation_id: rawId },
    );
    const a0 = performance.now();
    await store.append([raw], { expectedVersion: "none" });
    const rawMs = performance.now() - a0;

    // Planner: the recorded request in, plan.proposed appended (aggregate read + plan + append).
    const planId = `plan_${i}`;
    const req = newEvent(
      "plan.requested",
      planId,
      { plan_id: planId, intent: intents[i % intents.length] as string, source: "api" },
      { actor, correlation_id: planId },
    );
    const { seqs } = await store.append([req], { expectedVersion: "none" });
    const recorded = {
      ...req,
      seq: seqs[0],
      stream: store.streams.events,
      subject: store.subjectFor("plan", planId),
    } as unknown as AnyRecordedEvent;
    const p0 = performance.now();
    await service.handle(recorded);
    const planMs = performance.now() - p0;
    if (i >= 50) {
      rawAppend.push(rawMs);
      endToEnd.push(planMs);
    }
  }
  const added = endToEnd.map((ms, i) => ms - (rawAppend[i] ?? 0));
  console.log(`raw append (1 event):                    ${fmt(rawAppend)}`);
  console.log(`request → plan.proposed appended:        ${fmt(endToEnd)}`);
  console.log(
    `added on top of the append (paired):     p50 ${pct(added, 50).toFixed(3)} ms  p99 ${pct(added, 99).toFixed(3)} ms`,
  );
  console.log(
    `p99 difference (plan.proposed − append): ${(pct(endToEnd, 99) - pct(rawAppend, 99)).toFixed(3)} ms (goal < 20 ms)`,
  );
  await deleteStreams(nc, store.prefix);
  await nc.drain();
}

/**
 * Approval to first tool process spawned: from the moment an approval is accepted to the moment
 * the tool router's sandbox has started the step's CLI. Goal: p99 under 300 ms.
 *
 * The system is the embedded process as a child (`test/support/embedded.ts`). Each sample is a
 * one-step plan whose step is a real write on the local cluster (`kubectl annotate` of a ConfigMap
 * in a namespace of the benchmark's own) that policy sends for approval (stage 1: every write).
 * bob grants it (`POST /v1/approvals`); as soon as that answers 202, alice starts it
 * (`POST /v1/plans/{id}:execute`): the product does not start an execution by itself after a
 * person's approval (stage 2's automatic start is for steps policy allows), so the client's
 * execute right after the approval is part of what is measured. The spawn is the step's
 * `tool_call.started` (the router appends it when the sandbox reports the CLI's pid).
 *
 * Two measures per sample, both on this machine's wall clock:
 *  - from `approval.granted`'s `occurred_at` (the gateway's clock, at the decision) to
 *    `tool_call.started`'s `occurred_at` (the router's, same process);
 *  - from the approval's HTTP 202 as this client saw it to the same spawn.
 * And where the time goes: the execute command, `execution.requested` → `execution.started`
 * (consumer + workflow start), → `execution.step_started` (approval re-check, plan load), → the
 * spawn (capability, router, sandbox process start). One sample at a time, each execution run to
 * its end before the next approval: latency, not queueing. Plans are prepared (recorded, decided by
 * policy) in batches between samples, never during one.
 *
 *   npm run bench -- approval-spawn [--samples 200]
 *
 * There is no raw baseline for a whole path like this; the goal is absolute. The breakdown says
 * which part to look at.
 */
import { parseArgs } from "node:util";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { createTestNamespace, kubectl } from "../../test/support/index.ts";
import {
  command,
  executionIdOf,
  policyDecision,
  type RecordedPlan,
  recordOneStepPlan,
  startBenchSystem,
  TERMINAL,
  watchEvents,
} from "./support/executions-system.ts";
import { load } from "./support/measure.ts";

const { values } = parseArgs({ options: { samples: { type: "string", default: "200" } } });
const samples = Number(values.samples);
const WARMUP = 3;
/**
 * Plans are recorded and decided in batches of this many before their samples are measured, never
 * while one is: recording a plan and policy's decision on it are work of the same process, and
 * overlapping them with a sample measured contention with the benchmark's own preparation. Small
 * enough that no approval's TTL runs out while its plan waits.
 */
const BATCH = 25;

const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const fmt = (xs: readonly number[]) =>
  `p50 ${pct(xs, 50).toFixed(0)} ms  p90 ${pct(xs, 90).toFixed(0)} ms  p99 ${pct(xs, 99).toFixed(0)} ms  max ${Math.max(...xs).toFixed(0)} ms`;
const at = (event: AnyRecordedEvent | undefined) => (event ? Date.parse(event.occurred_at) : Number.NaN);

const bench = await startBenchSystem("bench_appr");
const { system, store } = bench;
const namespace = await createTestNamespace("bench-appr");
await kubectl(["create", "configmap", "bench", `--namespace=${namespace.name}`, "--from-literal=k=v"]);
const watch = await watchEvents(store, ["tool_call.started", ...TERMINAL]);

const planFor = async (i: number): Promise<RecordedPlan> => {
  const plan = await recordOneStepPlan(store, {
    action_id: "kubectl.annotate",
    input: {
      kind: "configmap",
      name: "bench",
      namespace: namespace.name,
      annotations: { "wheelhouse.dev/bench-sample": String(i) },
    },
    target: { environment: "staging", service: "bench", namespace: namespace.name },
  });
  const decision = await policyDecision(store, plan.planId);
  if (decision !== "require_approval") throw new Error(`policy decided ${decision}; the benchmark needs an approval`);
  return plan;
};

interface Sample {
  readonly fromGranted: number;
  readonly from202: number;
  readonly executeCommand: number;
  readonly toStarted: number;
  readonly toStepStarted: number;
  readonly toSpawn: number;
}

async function sample(plan: RecordedPlan): Promise<Sample> {
  const t0 = Date.now();
  await command(system, bench.approver, "/v1/approvals", {
    plan_id: plan.planId,
    revision: 1,
    decision: "grant",
    digest: plan.digest,
    channel: "api",
  });
  const accepted = Date.now();
  await command(system, bench.operator, `/v1/plans/${plan.planId}:execute`, { revision: 1 });
  const executeAccepted = Date.now();
  const id = executionIdOf(plan.planId);
  await watch.until(
    `execution ${id} to end`,
    () => watch.of(id).some((e) => (TERMINAL as readonly string[]).includes(e.type)),
    300_000,
  );
  const spawned = watch.of(id).find((e) => e.type === "tool_call.started");
  if (!spawned) {
    const end = watch.of(id).at(-1) as { type: string; payload: { reason?: string } };
    throw new Error(`execution ${id} ended (${end.type}: ${end.payload.reason ?? ""}) without spawning its tool`);
  }
  const planEvents = await store.readAggregate("plan", plan.planId);
  const execution = await store.readAggregate("execution", id);
  const granted = planEvents.find((e) => e.type === "approval.granted");
  const requested = execution.find((e) => e.type === "execution.requested");
  const started = execution.find((e) => e.type === "execution.started");
  const stepStarted = execution.find((e) => e.type === "execution.step_started");
  if (t0 > at(granted)) throw new Error("approval.granted is older than the request that made it: clocks?");
  return {
    fromGranted: at(spawned) - at(granted),
    from202: at(spawned) - accepted,
    executeCommand: executeAccepted - accepted,
    toStarted: at(started) - at(requested),
    toStepStarted: at(stepStarted) - at(started),
    toSpawn: at(spawned) - at(stepStarted),
  };
}

try {
  console.log(`approval → first tool process spawned, ${samples} samples one at a time; load ${load()}`);
  const total = WARMUP + samples;
  const results: Sample[] = [];
  for (let first = 0; first < total; first += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, total - first) }, (_, k) => planFor(first + k)),
    );
    for (const [k, plan] of batch.entries()) {
      const i = first + k;
      const s = await sample(plan);
      if (i >= WARMUP) results.push(s);
      if ((i + 1 - WARMUP) % 50 === 0 && i >= WARMUP) console.log(`  ${i + 1 - WARMUP} samples; load ${load()}`);
    }
  }
  const of = (k: keyof Sample) => results.map((r) => r[k]);
  console.log(`  approval.granted → tool_call.started:   ${fmt(of("fromGranted"))}`);
  console.log(`  approval 202 (client) → tool_call.started: ${fmt(of("from202"))}`);
  console.log("  where it goes:");
  console.log(`    execute command after the approval:       ${fmt(of("executeCommand"))}`);
  console.log(`    execution.requested → execution.started:  ${fmt(of("toStarted"))}`);
  console.log(`    execution.started → step_started:         ${fmt(of("toStepStarted"))}`);
  console.log(`    step_started → tool_call.started (spawn): ${fmt(of("toSpawn"))}`);
  const p99 = pct(of("fromGranted"), 99);
  console.log(`  goal p99 < 300 ms → ${p99 < 300 ? "met" : "NOT met"} (${p99.toFixed(0)} ms); load ${load()}`);
} finally {
  await watch.stop();
  await namespace.teardown();
  await bench.stop();
}

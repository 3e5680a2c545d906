/**
 * Executions benchmark: executions per second of a one-step plan whose step is a fast real command
 * (`kubectl get namespace default` against the local cluster), through the whole system: the
 * embedded process as a child (`test/support/embedded.ts`), `POST /v1/plans/{id}:execute` →
 * `execution.requested` → the orchestrator → its Temporal workflow and activities → the tool
 * router → the CLI in a sandbox process → `tool_call.*` and `execution.*` events, until
 * `execution.succeeded`.
 *
 * The raw baseline, measured in the same run on the same Temporal server: a workflow with one
 * activity that spawns the same argv (`support/executions-workflow.ts`), its worker in this process.
 * Rounds of each are interleaved (this 2-core machine is shared; its load moves within seconds).
 * Each round starts its executions in one burst and ends at the last one's end: rate = executions
 * / elapsed. Goal: ≥ 0.5× raw, and at least the 66 workflows/s published for the TypeScript SDK
 * on a local dev server.
 *
 *   npm run bench -- executions [--executions 100] [--rounds 2] [--step kubectl|helm]
 *
 * `--step helm` runs `helm template` of the demo shop's payments chart instead (client-side only,
 * no cluster needed; the folder is put in `tools.allowed_paths`).
 *
 * Each round also runs the raw workflow with nothing to run (an empty activity): what this machine's
 * Temporal does alone, the workload the published 66/s is measured on.
 *
 * Besides the rates: latency from the request to the end of each execution, the embedded
 * process's CPU per execution (its /metrics) and the machine's busy CPU per execution
 * (/proc/stat: the sandbox processes and CLIs, Temporal, NATS, and whatever else runs here).
 * Plans come from `support/executions-system.ts`; policy decides them (a T0 read: allowed).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DefaultLogger, Runtime, Worker } from "@temporalio/worker";
import { buildCommand } from "../../lib/tools/index.ts";
import { connectTemporal, uniqueName } from "../../test/support/index.ts";
import { cpuBreakdown } from "./support/executions-cpu.ts";
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
import { rawCommandWorkflow } from "./support/executions-workflow.ts";
import { load, measurer } from "./support/measure.ts";

const { values } = parseArgs({
  options: {
    executions: { type: "string", default: "100" },
    rounds: { type: "string", default: "2" },
    warmup: { type: "string", default: "5" },
    step: { type: "string", default: "kubectl" },
  },
});
const perRound = Number(values.executions);
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);

const CHARTS = fileURLToPath(new URL("../../infra/demo-shop/", import.meta.url));
const STEPS = {
  kubectl: { action_id: "kubectl.get", input: { kind: "namespace", name: "default", namespace: "default" } },
  helm: {
    action_id: "helm.template",
    input: { release: "bench", chart: `${CHARTS}payments`, namespace: "default" },
  },
} as const;
if (!(values.step in STEPS)) throw new Error(`--step must be one of ${Object.keys(STEPS).join(", ")}`);
const STEP = {
  ...STEPS[values.step as keyof typeof STEPS],
  target: { environment: "staging", service: "bench", namespace: "default" },
};
const ARGV = buildCommand(STEP.action_id, STEP.input, { allowedRoots: [CHARTS] });

const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const ms = (n: number) => `${n.toFixed(0)} ms`;

/** Busy and total CPU time of the whole machine so far, in seconds (/proc/stat's first line). */
function machineCpu(): { busy: number; total: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

Runtime.install({ logger: new DefaultLogger("WARN") });
const bench = await startBenchSystem("bench_exec", { WHEELHOUSE_TOOLS__ALLOWED_PATHS: JSON.stringify([CHARTS]) });
const { system, store } = bench;
const temporal = await connectTemporal();
const rawQueue = uniqueName("bench_raw");
const commandEnv = { PATH: system.env.PATH, KUBECONFIG: system.env.KUBECONFIG, HOME: system.env.HOME };

/** The raw activity: spawn the argv, drain its output, resolve with the exit code; no argv: nothing to run. */
const runCommand = (argv: readonly string[]) =>
  new Promise<number>((resolve, reject) => {
    if (argv.length === 0) return resolve(0);
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, { env: commandEnv, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.resume();
    child.stderr.resume();
    child.once("error", reject);
    child.once("close", (code) => resolve(code ?? -1));
  });

const worker = await Worker.create({
  connection: temporal.workerConnection,
  namespace: "default",
  taskQueue: rawQueue,
  workflowsPath: fileURLToPath(new URL("./support/executions-workflow.ts", import.meta.url)),
  activities: { runCommand },
});
const workerRun = worker.run();
const watch = await watchEvents(store, [...TERMINAL]);
const measured = measurer(system.url);

async function rawRound(n: number, argv: readonly string[] = ARGV) {
  const t0 = performance.now();
  const codes = await Promise.all(
    Array.from({ length: n }, () =>
      temporal.client.workflow.execute(rawCommandWorkflow, {
        taskQueue: rawQueue,
        workflowId: uniqueName("raw"),
        args: [argv],
      }),
    ),
  );
  const elapsed = performance.now() - t0;
  const failed = codes.filter((c) => c !== 0).length;
  if (failed > 0) throw new Error(`${failed} raw runs of ${ARGV.join(" ")} exited non-zero`);
  return { rate: (n * 1000) / elapsed, elapsed };
}

async function productRound(plans: readonly RecordedPlan[]) {
  const t0 = performance.now();
  const requested = new Map<string, number>();
  const ended = new Map<string, number>();
  const done = (id: string) => watch.of(id).some((e) => (TERMINAL as readonly string[]).includes(e.type));
  await Promise.all(
    plans.map(async (plan) => {
      const id = executionIdOf(plan.planId);
      requested.set(id, performance.now());
      await command(system, bench.operator, `/v1/plans/${plan.planId}:execute`, { revision: 1 });
      await watch.until(`execution ${id} to end`, () => done(id), 600_000);
      ended.set(id, performance.now());
    }),
  );
  const elapsed = performance.now() - t0;
  const failures = plans
    .map((p) => watch.of(executionIdOf(p.planId)).find((e) => e.type !== "execution.succeeded"))
    .filter((e) => e !== undefined);
  if (failures.length > 0) {
    const first = failures[0] as { type: string; payload: { reason?: string } };
    throw new Error(
      `${failures.length} executions did not succeed; first: ${first.type} ${first.payload.reason ?? ""}`,
    );
  }
  const latencies = [...ended].map(([id, end]) => end - (requested.get(id) ?? end));
  return { rate: (plans.length * 1000) / elapsed, elapsed, latencies };
}

try {
  console.log(`executions: one-step plan \`${ARGV.join(" ")}\`; load ${load()}`);
  const plans: RecordedPlan[] = [];
  const needed = warmup + rounds * perRound;
  for (let i = 0; i < needed; i += 20) {
    plans.push(
      ...(await Promise.all(Array.from({ length: Math.min(20, needed - i) }, () => recordOneStepPlan(store, STEP)))),
    );
  }
  for (const plan of plans) {
    const decision = await policyDecision(store, plan.planId);
    if (decision !== "allow") throw new Error(`policy decided ${decision} for the benchmark's read; expected allow`);
  }

  // Warm-up: connections, JIT, the workflow bundles' first runs, the sandbox's transform cache.
  await rawRound(warmup);
  await productRound(plans.slice(0, warmup));

  const raw: number[] = [];
  const product: number[] = [];
  const empty: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const cpuRaw = machineCpu();
    const rawCpu = cpuBreakdown();
    const rr = await rawRound(perRound);
    const rawBusy = machineCpu().busy - cpuRaw.busy;
    const rawCpuLine = rawCpu(perRound, "workflow");
    raw.push(rr.rate);
    console.log(
      `  round ${r + 1} raw:     ${rr.rate.toFixed(2)} workflows/s (${perRound} in ${ms(rr.elapsed)}); machine-wide busy CPU (other work included) ${((rawBusy * 1000) / perRound).toFixed(0)} ms/workflow | load ${load()}`,
    );
    console.log(rawCpuLine);
    const slice = plans.slice(warmup + r * perRound, warmup + (r + 1) * perRound);
    const cpuProduct = machineCpu();
    const productCpu = cpuBreakdown();
    let pr: Awaited<ReturnType<typeof productRound>> | undefined;
    const line = await measured(async () => {
      pr = await productRound(slice);
      return { units: perRound, unit: "execution" };
    });
    const productBusy = machineCpu().busy - cpuProduct.busy;
    const productCpuLine = productCpu(perRound, "execution");
    const p = pr as Awaited<ReturnType<typeof productRound>>;
    product.push(p.rate);
    console.log(
      `  round ${r + 1} product: ${p.rate.toFixed(2)} executions/s (${perRound} in ${ms(p.elapsed)}), request → end p50 ${ms(pct(p.latencies, 50))} p99 ${ms(pct(p.latencies, 99))}; machine-wide busy CPU ${((productBusy * 1000) / perRound).toFixed(0)} ms/execution`,
    );
    console.log(line.replace("gateway:", "embedded process:"));
    console.log(productCpuLine);
    // What this machine's Temporal does alone: the raw workflow with nothing to run (the workload of the
    // published 66/s), so that figure can be read against this machine.
    const er = await rawRound(perRound, []);
    empty.push(er.rate);
    console.log(
      `  round ${r + 1} Temporal alone (one empty activity): ${er.rate.toFixed(2)} workflows/s (${perRound} in ${ms(er.elapsed)}) | load ${load()}`,
    );
  }
  const best = (xs: number[]) => Math.max(...xs);
  const ratios = product.map((p, i) => p / (raw[i] as number));
  console.log(
    `  ratio product / raw per round: ${ratios.map((x) => `${x.toFixed(2)}×`).join(", ")}   goal ≥ 0.5× → ${Math.min(...ratios) >= 0.5 ? "met" : "NOT met"}`,
  );
  console.log(
    `  best product round ${best(product).toFixed(2)} executions/s, best raw ${best(raw).toFixed(2)} workflows/s, best Temporal alone ${best(empty).toFixed(2)} workflows/s   goal ≥ 66/s → ${best(product) >= 66 ? "met" : "NOT met"}`,
  );
} finally {
  await watch.stop();
  worker.shutdown();
  await workerRun;
  await temporal.close();
  await bench.stop();
}

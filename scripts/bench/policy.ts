/**
 * Policy benchmark: decisions per second and p50/p99 latency through
 * `evaluatePolicy` (opa-wasm, in-process, output validated) against
 * `opa bench` (OPA's Go evaluator) on the same Rego, data and input, in the
 * same run.
 *
 *   node --import tsx scripts/bench/policy.ts [--iterations 50000]
 *
 * Goals: p99 <= 100 µs and at least Go's throughput. Exits 1 when a goal is missed.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { createLogger } from "../../lib/log/index.ts";
import { buildPolicyBundle, POLICIES_DIR, resolveOpaBinary } from "../../lib/policy/build.ts";
import {
  buildPolicyInput,
  changeWindowZones,
  createPolicyService,
  POLICY_ENTRYPOINT,
  type PolicyInput,
  type PolicyInputContext,
  type PolicyService,
  withTimeZones,
} from "../../lib/policy/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";

const run = promisify(execFile);
const P99_GOAL_US = 100;

interface Figures {
  readonly opsPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

const { values } = parseArgs({ options: { iterations: { type: "string", default: "50000" } } });
const iterations = Number(values.iterations);

const catalog = loadCatalog();
/** Staging's windows in the zoned data: office hours in Berlin, a night across midnight in New York. */
const ZONED_WINDOWS = [
  { days: ["Mon", "Tue", "Wed", "Thu"], start: "09:00", end: "16:00", tz: "Europe/Berlin" },
  { days: ["Sat"], start: "22:00", end: "04:00", tz: "America/New_York" },
];

/** A Vault secret write (T3) of checkout in `environment`, decided at `context.now`. */
const secretRotation = (environment: string, context: Omit<PolicyInputContext, "plan_id" | "source">) =>
  buildPolicyInput(
    {
      step_id: "s1",
      action_id: "vault.kv_put",
      input: { mount: "kv", path: "shop/db", data_refs: { password: "env:X" } },
      target: { environment, service: "checkout" },
    },
    catalog.get("vault.kv_put"),
    { id: "alice", kind: "user", roles: ["operator"] },
    { plan_id: "bench", source: "api", ...context },
  );

/** `zoned`: evaluated with data whose staging windows are ZONED_WINDOWS (the service adds the zones' offsets). */
const scenarios: ReadonlyArray<{ name: string; input: PolicyInput; zoned?: boolean }> = [
  {
    name: "T1 scale in staging (allow)",
    input: buildPolicyInput(
      {
        step_id: "s1",
        action_id: "kubectl.scale",
        input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 5 },
        target: { environment: "staging", service: "checkout" },
      },
      catalog.get("kubectl.scale"),
      { id: "alice", kind: "user", roles: ["operator"] },
      { plan_id: "bench", source: "api", current_replicas: 3, now: new Date("2026-03-10T14:05:00Z") },
    ),
  },
  {
    name: "T3 secret rotation outside the window (deny)",
    input: secretRotation("production", {
      approvals: [
        { approver: "bob", at: "2026-03-13T16:00:00Z" },
        { approver: "carol", at: "2026-03-13T16:01:00Z" },
      ],
      now: new Date("2026-03-13T17:00:00Z"),
    }),
  },
  {
    name: "T3 secret rotation outside a Berlin / New York window, across DST (deny)",
    zoned: true,
    input: secretRotation("staging", { now: new Date("2026-03-26T17:00:00Z") }),
  },
];

function percentile(sorted: Float64Array, p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

function benchWasm(policy: PolicyService, input: PolicyInput): Figures {
  for (let i = 0; i < Math.min(5000, iterations); i++) policy.evaluatePolicy(input);
  const samples = new Float64Array(iterations);
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    const decision = policy.evaluatePolicy(input);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
    if (decision.policy_revision === "none") throw new Error("policy bundle not loaded");
  }
  const elapsedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  samples.sort();
  return { opsPerSecond: iterations / elapsedSeconds, p50Us: percentile(samples, 50), p99Us: percentile(samples, 99) };
}

async function benchGo(opa: string, dataPath: string, inputPath: string): Promise<Figures> {
  const { stdout } = await run(
    opa,
    [
      "bench",
      "--format",
      "json",
      "--benchmem=false",
      "-d",
      join(POLICIES_DIR, "authz.rego"),
      "-d",
      dataPath,
      "-i",
      inputPath,
      `data.${POLICY_ENTRYPOINT.replaceAll("/", ".")}`,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as { N: number; T: number; Extra: Record<string, number> };
  const extra = result.Extra;
  return {
    opsPerSecond: result.N / (result.T / 1e9),
    p50Us: (extra.histogram_timer_rego_query_eval_ns_median ?? Number.NaN) / 1000,
    p99Us: (extra["histogram_timer_rego_query_eval_ns_99%"] ?? Number.NaN) / 1000,
  };
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

async function main(): Promise<number> {
  const opa = resolveOpaBinary(process.env);
  if (!opa) throw new Error("opa binary not found: set OPA or run scripts/setup");
  const dir = await mkdtemp(join(tmpdir(), "wheelhouse-policy-bench-"));
  const logger = createLogger({ service: "policy-bench", level: "warn", format: "json" });
  let failed = false;
  try {
    // Stage 2 so the allow scenario exercises the automatic path.
    const data = JSON.parse(await readFile(join(POLICIES_DIR, "data.json"), "utf8"));
    data.wheelhouse.config.stage = 2;
    const dataPath = join(dir, "data.json");
    await writeFile(dataPath, JSON.stringify(data));
    const bundlePath = join(dir, "bundle.tar.gz");
    await buildPolicyBundle({ opa, sources: [join(POLICIES_DIR, "authz.rego"), dataPath], outPath: bundlePath });
    const policy = await createPolicyService({ bundlePath, timeoutMs: 50, logger, watch: false });
    const zonedData = structuredClone(data);
    zonedData.wheelhouse.config.change_windows.staging = ZONED_WINDOWS;
    const zonedDataPath = join(dir, "zoned-data.json");
    await writeFile(zonedDataPath, JSON.stringify(zonedData));
    const zonedPolicy = await createPolicyService({ bundlePath, data: zonedData, timeoutMs: 50, logger, watch: false });

    console.log(`policy benchmark: ${iterations} evaluations per scenario, node ${process.version}, ${opa}`);
    for (const scenario of scenarios) {
      const inputPath = join(dir, "input.json");
      // opa bench gets the input as the service hands it to wasm, with the zones' offsets.
      const goInput = scenario.zoned ? withTimeZones(scenario.input, changeWindowZones(zonedData)) : scenario.input;
      await writeFile(inputPath, JSON.stringify(goInput));
      const service = scenario.zoned ? zonedPolicy : policy;
      const check = service.evaluatePolicy(scenario.input);
      const wasm = benchWasm(service, scenario.input);
      const go = await benchGo(opa, scenario.zoned ? zonedDataPath : dataPath, inputPath);
      const ratio = wasm.opsPerSecond / go.opsPerSecond;
      console.log(`\n${scenario.name}: ${check.decision} ${check.tier}`);
      console.log(
        `  wasm evaluatePolicy  ${fmt(wasm.opsPerSecond).padStart(8)} decisions/s  p50 ${fmt(wasm.p50Us)} µs  p99 ${fmt(wasm.p99Us)} µs`,
      );
      console.log(
        `  opa bench (Go)       ${fmt(go.opsPerSecond).padStart(8)} decisions/s  p50 ${fmt(go.p50Us)} µs  p99 ${fmt(go.p99Us)} µs`,
      );
      console.log(
        `  throughput ratio wasm/Go: ${ratio.toFixed(2)}x   p99 goal ${P99_GOAL_US} µs: ${wasm.p99Us <= P99_GOAL_US ? "met" : "MISSED"}`,
      );
      if (wasm.p99Us > P99_GOAL_US || ratio < 1) failed = true;
    }
    await policy.close();
    await zonedPolicy.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();

/**
 * What starting one sandbox-exec process costs (the tool router starts one per tool call): CPU
 * (user + system) and wall time from exec to exit of a process that loads everything, reads an
 * empty request and answers the protocol's error, against bare `node -e 0` in the same run.
 *
 *   npm run bench -- sandbox-start [--rounds 20] [--call]
 *
 * Variants, interleaved round by round (this 2-core machine is shared; its load moves within
 * seconds):
 *  - bare:            `node -e 0`, the raw baseline: what Node itself costs to start and stop;
 *  - source:          `node services/sandbox-exec/main.ts`, the TypeScript with Node's type stripping
 *                     (how the router started it before the bundle);
 *  - source+cache:    the same with Node's compile cache (the router's fallback when it has no bundle);
 *  - bundle:          the cached esbuild bundle (services/tool-router/sandbox-bundle.ts), no compile cache;
 *  - bundle+cache:    the bundle with its compile cache: what the router runs.
 * Each variant runs once before the rounds (compile caches filled, files in the page cache).
 * CPU is the child's rusage as bash's `time` reports it (getrusage, milliseconds). `--call` also
 * runs a whole call per round (`vault.kv_metadata_get` against the fixture CLI, a bash script),
 * whose CPU includes the CLI's:
 *  - call: cli alone:     the fixture CLI run directly, the floor no sandbox can go under;
 *  - call: source, call: bundle+cache: one sandbox-exec process per call (`tools.sandbox.mode:
 *                     process_per_call`);
 *  - call: host:      through a sandbox host (the default mode, services/tool-router/sandbox-host.ts),
 *                     started before the rounds: per call, the host's CPU with its reaped children's
 *                     (the CLI) from /proc/<pid>/stat, over `--host-batch` calls one after another
 *                     (the counters tick in 10 ms); the router side of the call (this process reading
 *                     the host's lines) is reported beside it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SANDBOX_EXEC_SOURCE, sandboxExecLaunch } from "../../services/tool-router/sandbox-bundle.ts";
import { createSandboxHostRunner } from "../../services/tool-router/sandbox-host.ts";
import { load } from "./support/measure.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    call: { type: "boolean" },
    "host-batch": { type: "string", default: "10" },
  },
});
const rounds = Number(values.rounds);
const hostBatch = Number(values["host-batch"]);
for (const [flag, n] of [
  ["--rounds", rounds],
  ["--host-batch", hostBatch],
] as const) {
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`sandbox-start: ${flag} must be a positive integer, not "${n}"\n`);
    process.exit(2);
  }
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const node = process.execPath;
const launch = await sandboxExecLaunch();
if (launch.bundle === null) throw new Error("sandbox-exec's bundle could not be made; see the warning above");
const [bundleMain, catalogArg] = launch.args as [string, string];
const sourceCache = mkdtempSync(join(tmpdir(), "wh-bench-sandbox-start-"));
const { NODE_COMPILE_CACHE: _ignored, ...hostEnv } = process.env;
const fixtureEnv = {
  PATH: `${join(ROOT, "test", "fixtures", "bin")}:${process.env.PATH}`,
  WH_FIXTURE_ARGV_LOG: join(sourceCache, "argv.log"),
};
const CALL = JSON.stringify({ tool_call_id: "bench", action_id: "vault.kv_metadata_get", input: { path: "shop/db" } });

interface Variant {
  readonly name: string;
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The request on stdin; none: an empty one (the process starts, answers an error, ends). */
  readonly request?: string;
}

const variants: Variant[] = [
  { name: "bare", argv: [node, "-e", "0"] },
  { name: "source", argv: [node, SANDBOX_EXEC_SOURCE, catalogArg] },
  { name: "source+cache", argv: [node, SANDBOX_EXEC_SOURCE, catalogArg], env: { NODE_COMPILE_CACHE: sourceCache } },
  { name: "bundle", argv: [node, bundleMain, catalogArg] },
  { name: "bundle+cache", argv: [node, bundleMain, catalogArg], env: launch.env },
  ...(values.call
    ? [
        {
          name: "call: cli alone",
          argv: [
            join(ROOT, "test", "fixtures", "bin", "vault"),
            "kv",
            "metadata",
            "get",
            "-format=json",
            "-mount=secret",
            "shop/db",
          ],
          env: fixtureEnv,
        },
        { name: "call: source", argv: [node, SANDBOX_EXEC_SOURCE, catalogArg], env: fixtureEnv, request: CALL },
        {
          name: "call: bundle+cache",
          argv: [node, bundleMain, catalogArg],
          env: { ...launch.env, ...fixtureEnv },
          request: CALL,
        },
      ]
    : []),
];

interface Sample {
  readonly cpuMs: number;
  readonly wallMs: number;
}

/** One run under bash's `time` (getrusage of the child: user and system CPU to the millisecond). */
function measure(variant: Variant): Sample {
  const script = 'TIMEFORMAT="%3U %3S %3R"; { time "$@" >/dev/null 2>&1; } 2>&1';
  const result = spawnSync("bash", ["-c", script, "bash", ...variant.argv], {
    cwd: ROOT,
    env: { ...hostEnv, ...variant.env },
    input: variant.request ?? "",
    encoding: "utf8",
  });
  const [user, system, wall] = result.stdout.trim().split(" ").map(Number);
  if (user === undefined || system === undefined || wall === undefined || Number.isNaN(wall)) {
    throw new Error(`${variant.name}: could not time ${variant.argv.join(" ")}: ${result.stdout} ${result.stderr}`);
  }
  return { cpuMs: (user + system) * 1000, wallMs: wall * 1000 };
}

const CALL_SPEC = JSON.parse(CALL) as { tool_call_id: string; action_id: string; input: Record<string, unknown> };
const host = values.call
  ? createSandboxHostRunner({
      launch: async () => launch,
      env: { ...hostEnv, ...launch.env, ...fixtureEnv },
      hosts: 1,
      recycleAfterCalls: Number.MAX_SAFE_INTEGER,
    })
  : null;
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** A process's CPU with that of its reaped children (utime, stime, cutime, cstime of /proc/<pid>/stat), in ms. */
function cpuWithChildrenMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 to 17 of stat(5); the slice starts at field 3.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return (ticks * 1000) / CLK_TCK;
}

const routerCpuMs: number[] = [];
/** `--host-batch` calls through the host, one after another: per call, its CPU (host + CLI) and wall time. */
async function measureHost(): Promise<Sample> {
  if (host === null) throw new Error("no host");
  await host(CALL_SPEC, { onStarted: () => {}, onLine: () => {} });
  const [pid] = host.hostPids();
  if (pid === undefined) throw new Error("the sandbox host is not running");
  const cpu0 = cpuWithChildrenMs(pid);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < hostBatch; i++) {
    const result = await host(CALL_SPEC, { onStarted: () => {}, onLine: () => {} });
    if (!result.ok) throw new Error(`call: host: the call failed: ${result.stderr.text}`);
  }
  const wallMs = (performance.now() - t0) / hostBatch;
  const self = process.cpuUsage(self0);
  routerCpuMs.push((self.user + self.system) / 1000 / hostBatch);
  return { cpuMs: (cpuWithChildrenMs(pid) - cpu0) / hostBatch, wallMs };
}
if (host) variants.push({ name: "call: host", argv: [] });

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

console.log(`sandbox-start: ${rounds} interleaved rounds; bundle ${launch.bundle}; load ${load()}`);
const measureAny = (variant: Variant) => (variant.name === "call: host" ? measureHost() : measure(variant));
for (const variant of variants) await measureAny(variant);
const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
for (let r = 0; r < rounds; r++) {
  for (const variant of variants) samples.get(variant.name)?.push(await measureAny(variant));
}
await host?.close();

const summary = (name: string) => {
  const xs = samples.get(name) ?? [];
  return {
    cpu: median(xs.map((s) => s.cpuMs)),
    cpuMean: mean(xs.map((s) => s.cpuMs)),
    wall: median(xs.map((s) => s.wallMs)),
  };
};
const bare = summary("bare");
const source = summary("source");
for (const { name } of variants) {
  const s = summary(name);
  const overBare =
    name === "bare"
      ? ""
      : `  ${(s.cpu / bare.cpu).toFixed(2)}× bare's CPU, ${s.cpu >= bare.cpu ? "+" : "-"}${Math.abs(s.cpu - bare.cpu).toFixed(0)} ms`;
  const vsSource = name.startsWith("bundle") ? `, ${(s.cpu / source.cpu).toFixed(2)}× source's` : "";
  const perCall = summary("call: bundle+cache");
  const vsPerCall =
    name === "call: host"
      ? `, ${(s.cpu / perCall.cpu).toFixed(2)}× a call's own process (bundle+cache); router side ${median(routerCpuMs).toFixed(1)} ms`
      : "";
  console.log(
    `  ${name.padEnd(20)} CPU median ${s.cpu.toFixed(0).padStart(4)} ms (mean ${s.cpuMean.toFixed(0).padStart(4)})  wall median ${s.wall.toFixed(0).padStart(4)} ms${overBare}${vsSource}${vsPerCall}`,
  );
}
console.log(`  load ${load()}`);
rmSync(sourceCache, { recursive: true, force: true });

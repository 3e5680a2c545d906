/**
 * What the gateway benchmark's phases cost, beyond their latencies: the gateway's CPU per unit of
 * work, its event-loop delay and GC pauses (read from its /metrics, prom-client's process and
 * Node.js metrics, before and after), this process's CPU and event-loop delay, and the machine's
 * load average, which says how much the absolute figures of a run can be trusted.
 */
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";

const fmt = (n: number) => n.toFixed(2);

/** The 1, 5 and 15 minute load averages. */
export const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/** What the gateway reports about itself on /metrics (prom-client's process and Node.js metrics). */
interface ServerSample {
  readonly cpuSeconds: number;
  readonly gcCount: number;
  readonly gcSeconds: number;
  /** GC pauses of 10 ms or less (the histogram's bucket): the rest are the ones a p99 of 10 ms cannot absorb. */
  readonly gcShort: number;
  /** Event-loop delay since the previous scrape (prom-client resets its histogram on each). */
  readonly lagP99: number;
  readonly lagMax: number;
}

async function serverSample(baseUrl: string): Promise<ServerSample> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const sum = (name: string, label = "") =>
    text
      .split("\n")
      .filter((line) => line.startsWith(name) && line.includes(label))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  return {
    cpuSeconds: sum("process_cpu_seconds_total"),
    gcCount: sum("nodejs_gc_duration_seconds_count"),
    gcSeconds: sum("nodejs_gc_duration_seconds_sum"),
    gcShort: sum("nodejs_gc_duration_seconds_bucket{", 'le="0.01"'),
    lagP99: sum("nodejs_eventloop_lag_p99_seconds"),
    lagMax: sum("nodejs_eventloop_lag_max_seconds"),
  };
}

/**
 * `measured(work)` runs `work` and answers with a line saying what the gateway at `baseUrl` and this
 * process spent on it, per unit of work done.
 */
export const measurer = (baseUrl: string) => async (work: () => Promise<{ units: number; unit: string }>) => {
  const loadBefore = load();
  const before = await serverSample(baseUrl);
  const cpu = process.cpuUsage();
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const result = await work();
  lag.disable();
  const own = process.cpuUsage(cpu);
  const after = await serverSample(baseUrl);
  const perUnit = (ms: number) => `${fmt((ms * 1000) / Math.max(1, result.units))} us/${result.unit}`;
  const gatewayMs = (after.cpuSeconds - before.cpuSeconds) * 1000;
  const gcCount = after.gcCount - before.gcCount;
  const gcMs = (after.gcSeconds - before.gcSeconds) * 1000;
  const gcLong = gcCount - (after.gcShort - before.gcShort);
  return (
    `   gateway: cpu ${perUnit(gatewayMs)}, event-loop delay p99 ${fmt(after.lagP99 * 1000)} ms max ${fmt(after.lagMax * 1000)} ms, gc ${gcCount} pauses ${fmt(gcMs)} ms (${gcLong} over 10 ms)` +
    ` | bench: cpu ${perUnit((own.user + own.system) / 1000)}, event-loop delay p99 ${fmt(lag.percentile(99) / 1e6)} ms | load ${loadBefore} -> ${load()}`
  );
};

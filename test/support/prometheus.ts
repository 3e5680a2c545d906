/**
 * A real Prometheus for a test (Debian's `prometheus` binary, `/usr/bin/prometheus`
 * or `$PROMETHEUS`), on a free port with a temporary data folder, scraping
 * the targets the test names every second; and a tiny exporter the test
 * controls (request counters whose values it sets), for Prometheus to scrape.
 * `prometheusBinary()` is null where the package is not installed: tests skip
 * with that reason rather than fail.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";
import { waitFor } from "./wait.ts";

export function prometheusBinary(): string | null {
  const candidates = [process.env.PROMETHEUS, "/usr/bin/prometheus"].filter((p): p is string => Boolean(p));
  return candidates.find((p) => existsSync(p)) ?? null;
}

export interface TestPrometheus {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` (host:port) each second; resolves once it is ready. */
export async function startTestPrometheus(targets: readonly string[]): Promise<TestPrometheus> {
  const binary = prometheusBinary();
  if (!binary) throw new Error("no prometheus binary: apt-get install prometheus, or set PROMETHEUS");
  const dir = await mkdtemp(join(tmpdir(), "wh-prometheus-"));
  const config = join(dir, "prometheus.yml");
  await writeFile(
    config,
    [
      "global: { scrape_interval: 1s, evaluation_interval: 1s }",
      "scrape_configs:",
      "  - job_name: test",
      `    static_configs: [{ targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}] }]`,
      "",
    ].join("\n"),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr?.on("data", (chunk: Buffer) => {
    output = `${output}${chunk.toString()}`.slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `Prometheus ready at ${url}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${output}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    stop,
  };
}

export interface CounterExporter {
  /** host:port, as Prometheus' static_configs take it. */
  readonly target: string;
  /** Sets the cumulative value of one `http_requests_total` series. */
  set(labels: Readonly<Record<string, string>>, value: number): void;
  /** Adds to it. */
  add(labels: Readonly<Record<string, string>>, by: number): void;
  /** Resolves once Prometheus has scraped the exporter `n` more times (what it scraped is queryable then). */
  scraped(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Serves `/metrics` in Prometheus' text format: `http_requests_total` counters the test sets. */
export async function startCounterExporter(): Promise<CounterExporter> {
  const series = new Map<string, number>();
  let scrapes = 0;
  const key = (labels: Readonly<Record<string, string>>) =>
    Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(",");
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    const lines = ["# HELP http_requests_total Requests served.", "# TYPE http_requests_total counter"];
    for (const [labels, value] of series) lines.push(`http_requests_total{${labels}} ${value}`);
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(`${lines.join("\n")}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    set(labels, value) {
      series.set(key(labels), value);
    },
    add(labels, by) {
      series.set(key(labels), (series.get(key(labels)) ?? 0) + by);
    },
    async scraped(n) {
      // The scrape after the n-th has begun only once the n-th was stored.
      const until = scrapes + n + 1;
      await waitFor(`${n} more scrape(s) of ${port}`, () => scrapes >= until, { timeoutMs: 30_000, intervalMs: 50 });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Prometheus and Alertmanager of a test's own, from the project's configs (infra/prometheus,
 * rendered by its render.sh as scripts/infra renders them: the same rules, intervals and receiver),
 * on free ports, delivering to the gateway the test started with the token file it gave that
 * gateway. Prometheus scrapes the stack's demo exporter (WH_EXPORTER_PORT, 9424) and keeps only the
 * series of the test's namespace, so another test's shop cannot fire or resolve its alerts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { freePort } from "./net.ts";
import { waitFor } from "./wait.ts";

const ROOT = join(import.meta.dirname, "..", "..");
export const EXPORTER_TARGET = `127.0.0.1:${process.env.WH_EXPORTER_PORT ?? "9424"}`;

/** One alert as Prometheus' /api/v1/alerts lists it. */
export interface PrometheusAlert {
  readonly labels: Record<string, string>;
  readonly state: "pending" | "firing";
  readonly value: string;
}

export interface TestMetricsStack {
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  /** Prometheus' alerts (pending and firing) of the test's namespace. */
  alerts(): Promise<PrometheusAlert[]>;
  /** Alertmanager's active alerts (labels) of the test's namespace. */
  alertmanagerAlerts(): Promise<Record<string, string>[]>;
  /** What both printed, for a failure message. */
  output(): string;
  stop(): Promise<void>;
}

export interface MetricsStackOptions {
  /** The gateway's Alertmanager webhook, e.g. `${system.url}/v1/hooks/alertmanager`. */
  readonly webhookUrl: string;
  /** The file holding the bearer token the gateway checks (gateway.webhooks.alertmanager_token). */
  readonly tokenFile: string;
  /** Only this namespace's series are kept. */
  readonly namespace: string;
}

export async function startMetricsStack(options: MetricsStackOptions): Promise<TestMetricsStack> {
  const dir = await mkdtemp(join(tmpdir(), "wh-metrics-"));
  const ports = { prometheus: await freePort(), alertmanager: await freePort() };
  await execa("bash", [join(ROOT, "infra", "prometheus", "render.sh"), dir], {
    env: {
      PROMETHEUS: `127.0.0.1:${ports.prometheus}`,
      ALERTMANAGER: `127.0.0.1:${ports.alertmanager}`,
      EXPORTER: EXPORTER_TARGET,
      WEBHOOK_URL: options.webhookUrl,
      TOKEN_FILE: options.tokenFile,
    },
  });
  const configPath = join(dir, "prometheus.yml");
  const config = parse(await readFile(configPath, "utf8"));
  for (const job of config.scrape_configs as { job_name: string; metric_relabel_configs?: unknown[] }[]) {
    if (job.job_name !== "demo-shop") continue;
    job.metric_relabel_configs = [{ source_labels: ["namespace"], regex: options.namespace, action: "keep" }];
  }
  await writeFile(configPath, stringify(config));

  let output = "";
  const children: ChildProcess[] = [];
  const run = (binary: string, args: string[]) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (d: Buffer) => {
      output = `${output}${d.toString()}`.slice(-8000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    children.push(child);
  };
  run(process.env.WH_ALERTMANAGER_BIN ?? "/usr/bin/prometheus-alertmanager", [
    `--config.file=${join(dir, "alertmanager.yml")}`,
    `--storage.path=${join(dir, "am-data")}`,
    `--web.listen-address=127.0.0.1:${ports.alertmanager}`,
    "--cluster.listen-address=",
  ]);
  run(process.env.WH_PROMETHEUS_BIN ?? "/usr/bin/prometheus", [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(dir, "prom-data")}`,
    `--web.listen-address=127.0.0.1:${ports.prometheus}`,
  ]);
  const prometheusUrl = `http://127.0.0.1:${ports.prometheus}`;
  const alertmanagerUrl = `http://127.0.0.1:${ports.alertmanager}`;

  async function stop() {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  }

  try {
    for (const url of [prometheusUrl, alertmanagerUrl]) {
      await waitFor(`${url}/-/ready`, async () => (await fetch(`${url}/-/ready`)).ok, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
    }
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`);
  }

  return {
    prometheusUrl,
    alertmanagerUrl,
    output: () => output,
    stop,
    async alerts() {
      const body = (await (await fetch(`${prometheusUrl}/api/v1/alerts`)).json()) as {
        data: { alerts: PrometheusAlert[] };
      };
      return body.data.alerts.filter((a) => a.labels.namespace === options.namespace);
    },
    async alertmanagerAlerts() {
      const filter = encodeURIComponent(`namespace="${options.namespace}"`);
      const res = await fetch(`${alertmanagerUrl}/api/v2/alerts?active=true&silenced=false&filter=${filter}`);
      return ((await res.json()) as { labels: Record<string, string> }[]).map((a) => a.labels);
    },
  };
}

/**
 * The demo-workload exporter's entry (scripts/infra starts it after the cluster, on
 * WH_EXPORTER_PORT, 9424 by default): reads KUBECONFIG (the local cluster's by default), polls
 * every WH_EXPORTER_INTERVAL_MS (1000) and serves Prometheus metrics until SIGTERM or SIGINT.
 * WH_EXPORTER_RPS sets the requests per second of each ready replica (10).
 */
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { shopReader } from "./cluster.ts";
import { startExporter } from "./server.ts";

function positiveNumber(name: string, fallback: number): number {
  const given = process.env[name];
  if (given === undefined || given === "") return fallback;
  const value = Number(given);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name}=${given} is not a positive number; unset it or give one, such as ${name}=${fallback}`);
    process.exit(2);
  }
  return value;
}

const kubeconfig = process.env.KUBECONFIG ?? join(import.meta.dirname, "..", "..", "..", ".data", "kube", "config");
const kc = new KubeConfig();
try {
  kc.loadFromFile(kubeconfig);
} catch (error) {
  console.error(
    `could not read the kubeconfig ${kubeconfig}: ${(error as Error).message}; start the cluster (scripts/infra up) or set KUBECONFIG`,
  );
  process.exit(2);
}
const log = (message: string) => console.log(`${new Date().toISOString()} demo-shop-exporter: ${message}`);
const exporter = await startExporter({
  readShop: shopReader(kc),
  host: process.env.WH_EXPORTER_HOST ?? "127.0.0.1",
  port: positiveNumber("WH_EXPORTER_PORT", 9424),
  intervalMs: positiveNumber("WH_EXPORTER_INTERVAL_MS", 1000),
  profile: { requestsPerReplica: positiveNumber("WH_EXPORTER_RPS", 10) },
  log,
});
log(`serving ${exporter.url}/metrics (cluster ${kc.getCurrentCluster()?.server ?? "?"})`);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void exporter.stop().then(() => process.exit(0));
  });
}

/**
 * The exporter's Prometheus side: `http_requests_total{namespace,service,version,code}`, the
 * latency histogram `http_request_duration_seconds{namespace,service,version}`, and the replica
 * gauges `demo_shop_replicas_ready` / `demo_shop_replicas_desired{namespace,service}` (what the
 * alert rules use when kube-state-metrics is not there), and `demo_shop_namespace_info{namespace,
 * environment}` (1 per shop namespace) for rules to join the environment onto an alert. Both codes of a serving version are always
 * reported (a good version's 500s at 0), so that an error ratio is 0 rather than absent. A version
 * that no longer serves is removed, so Prometheus marks its series stale.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { latencySeconds, type ShopSnapshot, type TrafficAccumulator, versionKey } from "./model.ts";

export interface ShopMetrics {
  readonly registry: Registry;
  /** Records one poll: `elapsedSeconds` of traffic at the snapshot's replicas and versions. */
  record(snapshot: ShopSnapshot, elapsedSeconds: number): void;
}

type VersionLabels = { namespace: string; service: string; version: string };

export function createShopMetrics(traffic: TrafficAccumulator): ShopMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: "http_requests_total",
    help: "Requests the demo shop's services served (made up from ready replicas and the version deployed).",
    labelNames: ["namespace", "service", "version", "code"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "http_request_duration_seconds",
    help: "Latency of the demo shop's requests (made up: a bad version adds 400 ms).",
    labelNames: ["namespace", "service", "version"] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const ready = new Gauge({
    name: "demo_shop_replicas_ready",
    help: "Ready replicas of a demo shop Deployment.",
    labelNames: ["namespace", "service"] as const,
    registers: [registry],
  });
  const desired = new Gauge({
    name: "demo_shop_replicas_desired",
    help: "Desired replicas (spec.replicas) of a demo shop Deployment.",
    labelNames: ["namespace", "service"] as const,
    registers: [registry],
  });
  const namespaceInfo = new Gauge({
    name: "demo_shop_namespace_info",
    help: "1 for each namespace running the demo shop, with its wheelhouse.dev/environment label.",
    labelNames: ["namespace", "environment"] as const,
    registers: [registry],
  });
  let observed = 0;
  const serving = new Map<string, VersionLabels>();

  return {
    registry,
    record(snapshot, elapsedSeconds) {
      const now = new Set<string>();
      for (const t of traffic.tick(snapshot, elapsedSeconds)) {
        const labels: VersionLabels = { namespace: t.namespace, service: t.service, version: t.version };
        requests.inc({ ...labels, code: "200" }, t.ok);
        requests.inc({ ...labels, code: "500" }, t.failed);
        for (let i = 0; i < t.ok + t.failed; i++) latency.observe(labels, latencySeconds(observed++, t.bad));
        now.add(versionKey(labels));
        serving.set(versionKey(labels), labels);
      }
      for (const [key, labels] of serving) {
        if (now.has(key)) continue;
        requests.remove({ ...labels, code: "200" });
        requests.remove({ ...labels, code: "500" });
        latency.remove(labels);
        serving.delete(key);
      }
      ready.reset();
      desired.reset();
      namespaceInfo.reset();
      for (const [namespace, environment] of snapshot.environments) namespaceInfo.set({ namespace, environment }, 1);
      for (const d of snapshot.deployments) {
        ready.set({ namespace: d.namespace, service: d.service }, d.readyReplicas);
        desired.set({ namespace: d.namespace, service: d.service }, d.desiredReplicas);
      }
    },
  };
}

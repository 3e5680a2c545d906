/** Prometheus metrics of the gateway (prom-client), served at /metrics. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: "wheelhouse_http_requests_total",
      help: "HTTP requests by route, method and status",
      labelNames: ["route", "method", "status"] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: "wheelhouse_http_request_duration_seconds",
      help: "HTTP request duration by route",
      labelNames: ["route", "method"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    signals: new Counter({
      name: "wheelhouse_webhook_signals_total",
      help: "Webhook signals by source, and whether they were duplicates",
      labelNames: ["source", "duplicate"] as const,
      registers: [registry],
    }),
    wsClients: new Gauge({
      name: "wheelhouse_ws_clients",
      help: "Connected WebSocket subscribers",
      registers: [registry],
    }),
    wsDropped: new Counter({
      name: "wheelhouse_ws_slow_consumers_dropped_total",
      help: "WebSocket subscribers closed for not reading fast enough",
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

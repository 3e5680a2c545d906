/** Prometheus metrics of the gateway (prom-client), served at /metrics. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** One projection's distance behind the events stream (the projector's `lag()` items have these fields). */
export interface ProjectorLagSample {
  readonly projection: string;
  /** Stream events not applied yet. */
  readonly events_behind: number;
  /** Age of the last applied event while behind; 0 when caught up. */
  readonly ms_behind: number;
}

export interface MetricsOptions {
  /** When given, `/metrics` has `wheelhouse_projector_lag_events` and `wheelhouse_projector_lag_ms`, read per scrape. */
  readonly projectorLag?: (() => Promise<readonly ProjectorLagSample[]>) | undefined;
  /** A failed lag read keeps the previous values; this hears about it. */
  readonly onLagError?: ((error: unknown) => void) | undefined;
}

export function createMetrics(registry = new Registry(), options: MetricsOptions = {}) {
  collectDefaultMetrics({ register: registry });
  if (options.projectorLag) registerProjectorLag(registry, options.projectorLag, options.onLagError);
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

function registerProjectorLag(
  registry: Registry,
  readLag: () => Promise<readonly ProjectorLagSample[]>,
  onError?: (error: unknown) => void,
): void {
  // Both gauges are collected in the same scrape: one read serves the pair.
  let pending: Promise<readonly ProjectorLagSample[] | null> | null = null;
  const read = () => {
    pending ??= readLag()
      .catch((error: unknown) => {
        onError?.(error);
        return null;
      })
      .finally(() => {
        setImmediate(() => {
          pending = null;
        });
      });
    return pending;
  };
  new Gauge({
    name: "wheelhouse_projector_lag_events",
    help: "Events of the events stream a projection has not applied yet",
    labelNames: ["projection"] as const,
    registers: [registry],
    async collect() {
      for (const l of (await read()) ?? []) this.set({ projection: l.projection }, l.events_behind);
    },
  });
  new Gauge({
    name: "wheelhouse_projector_lag_ms",
    help: "Milliseconds since the last event a projection applied occurred, while it is behind; 0 when caught up",
    labelNames: ["projection"] as const,
    registers: [registry],
    async collect() {
      for (const l of (await read()) ?? []) this.set({ projection: l.projection }, l.ms_behind);
    },
  });
}

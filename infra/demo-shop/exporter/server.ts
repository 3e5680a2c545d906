/**
 * The exporter as a process: polls the shop every `intervalMs`, records the traffic of the time
 * since the previous poll, and serves `/metrics` (Prometheus text format) and `/-/healthy` (200
 * while the last poll succeeded within three intervals, 503 naming the error otherwise) on
 * 127.0.0.1. A failed poll records nothing: the counters stand still rather than make up traffic
 * the cluster did not confirm.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createShopMetrics } from "./metrics.ts";
import { type ShopSnapshot, TrafficAccumulator, type TrafficProfile } from "./model.ts";

export interface ExporterDeps {
  readonly readShop: () => Promise<ShopSnapshot>;
  readonly host: string;
  readonly port: number;
  readonly intervalMs: number;
  readonly profile: TrafficProfile;
  readonly log: (message: string) => void;
  readonly now?: () => number;
}

export interface Exporter {
  /** `http://host:port` once listening. */
  readonly url: string;
  /** Polls once now (tests call it to step without waiting for the timer). */
  poll(): Promise<void>;
  stop(): Promise<void>;
}

export async function startExporter(deps: ExporterDeps): Promise<Exporter> {
  const now = deps.now ?? Date.now;
  const metrics = createShopMetrics(new TrafficAccumulator(deps.profile));
  let lastPollAt: number | null = null;
  let lastSuccessAt: number | null = null;
  let lastError: string | null = null;
  let polling: Promise<void> | null = null;

  async function pollOnce() {
    const startedAt = now();
    try {
      const snapshot = await deps.readShop();
      // The first poll has no interval behind it: it records the replicas, not traffic.
      const elapsed = lastPollAt === null ? 0 : Math.max(0, (startedAt - lastPollAt) / 1000);
      metrics.record(snapshot, elapsed);
      lastPollAt = startedAt;
      lastSuccessAt = now();
      if (lastError !== null) deps.log("reading the shop works again");
      lastError = null;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (lastError !== message) deps.log(`could not read the shop from the cluster: ${message}`);
      lastError = message;
      // The gap is not traffic: the next successful poll starts a fresh interval.
      lastPollAt = null;
    }
  }
  const poll = () => {
    polling ??= pollOnce().finally(() => {
      polling = null;
    });
    return polling;
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
    } else if (path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else if (path === "/-/healthy" || path === "/-/ready") {
      const fresh = lastSuccessAt !== null && now() - lastSuccessAt < 3 * deps.intervalMs + 2000;
      if (fresh) res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      else
        res
          .writeHead(503, { "content-type": "text/plain" })
          .end(`not reading the shop: ${lastError ?? "no poll yet"}\n`);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("try /metrics\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(deps.port, deps.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  await poll();
  const timer = setInterval(() => void poll(), deps.intervalMs);

  return {
    url: `http://${deps.host}:${address.port}`,
    poll,
    async stop() {
      clearInterval(timer);
      await polling;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Context benchmark: `npm run bench -- context [objects=5000] [changes-per-second=50] [seconds=10]`.
 * 1. Initial sync: `objects` objects are created in the local cluster (half Deployments at 0
 *    replicas, half headless Services of the same names, in 10 namespaces of the benchmark's own),
 *    then a fresh context service lists every kind, builds the graph and records it (`context.*`
 *    events on a stream of its own) — against a raw `kubectl get <the same kinds> -A -o json` of the
 *    same cluster in the same run (best of three). Goal: at most 1.5× kubectl's time.
 * 2. Change latency: `changes-per-second` label changes a second for `seconds` seconds, each made
 *    through the API server; latency = the change's request sent → its `context.node_upserted`
 *    arriving on the stream. Goal: p99 under 500 ms.
 * Everything it creates is deleted at the end (namespaces, streams).
 */
import { randomBytes } from "node:crypto";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { execa } from "execa";
import { createEventStore } from "../../lib/eventstore/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { createContextService } from "../../services/context/service.ts";
import { connectTestNats, deleteStreams, testCluster } from "../../test/support/index.ts";

const OBJECTS = Number(process.argv[2] ?? 5000);
const RATE = Number(process.argv[3] ?? 50);
const SECONDS = Number(process.argv[4] ?? 10);
const NAMESPACES = 10;
const run = randomBytes(3).toString("hex");
const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `whbench-ctx-${run}-${i}`);
const perNamespace = Math.ceil(OBJECTS / 2 / NAMESPACES);
const KINDS =
  "namespaces,deployments,statefulsets,daemonsets,services,horizontalpodautoscalers,pods,applications.argoproj.io";

const kubectl = (args: string[], input?: string) =>
  execa(testCluster.kubectl, [`--kubeconfig=${testCluster.kubeconfig}`, ...args], {
    ...(input === undefined ? {} : { input }),
    maxBuffer: 1024 * 1024 * 1024,
  });

const kc = new KubeConfig();
kc.loadFromFile(testCluster.kubeconfig);
const server = kc.getCurrentCluster()?.server as string;
const https: RequestOptions = {};
await kc.applyToHTTPSOptions(https);

/** A JSON merge patch through the API server; resolves when it answers. */
function patch(path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(server + path),
      { ...https, method: "PATCH", headers: { ...https.headers, "content-type": "application/merge-patch+json" } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
const nc = await connectTestNats();
const prefix = `bench_ctx_${run}`;
const logger = createLogger({ service: "bench-context", level: "warn", format: "json" });

async function cleanup(): Promise<void> {
  await kubectl(["delete", "namespace", ...namespaces, "--wait=false", "--ignore-not-found=true"]).catch(() => {});
  await deleteStreams(nc, prefix);
}

try {
  // The objects: a Deployment at 0 replicas (no pods) and a headless Service (no address) per name.
  const t0 = performance.now();
  await kubectl(
    ["create", "--filename=-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: namespaces.map((name) => ({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels: { "wheelhouse.dev/test": "true" } },
      })),
    }),
  );
  let created = 0;
  for (const ns of namespaces) {
    const items = [];
    for (let i = 0; i < perNamespace; i++) {
      const name = `app-${i}`;
      const labels = { "app.kubernetes.io/name": name };
      items.push({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: ns, labels },
        spec: {
          replicas: 0,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: "app", image: `registry.example.com/${name}:1.0.0` }] },
          },
        },
      });
      items.push({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: ns, labels },
        spec: { clusterIP: "None", ports: [{ port: 80 }] },
      });
    }
    for (let i = 0; i < items.length; i += 500) {
      await kubectl(
        ["create", "--filename=-"],
        JSON.stringify({ apiVersion: "v1", kind: "List", items: items.slice(i, i + 500) }),
      );
    }
    created += items.length;
  }
  console.log(
    `created ${created} objects in ${NAMESPACES} namespaces in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // 1. Initial sync against kubectl.
  const kubectlTimes: number[] = [];
  let kubectlObjects = 0;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const out = await kubectl(["get", KINDS, "--all-namespaces", "--output=json"]);
    const helm = await kubectl(["get", "secrets", "--all-namespaces", "--selector=owner=helm", "--output=json"]);
    kubectlTimes.push(performance.now() - t);
    kubectlObjects =
      (JSON.parse(out.stdout) as { items: unknown[] }).items.length +
      (JSON.parse(helm.stdout) as { items: unknown[] }).items.length;
  }
  const kubectlMs = Math.min(...kubectlTimes);

  const store = createEventStore({ nc, prefix, logger });
  await store.provision();
  const service = createContextService({ store, nc, logger, kubeconfig: kc, resyncMs: 600_000 });
  const ts = performance.now();
  await service.start();
  const syncMs = performance.now() - ts;
  const recorded = await store.lastSeq();
  console.log(
    `initial sync: ${kubectlObjects} objects; kubectl get -o json ${kubectlMs.toFixed(0)} ms (best of 3); ` +
      `context service ${syncMs.toFixed(0)} ms to list, build and record ${recorded} events; ratio ${(syncMs / kubectlMs).toFixed(2)}× (goal ≤ 1.5×)`,
  );

  // 2. Change latency at RATE changes/s.
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  const live = await store.subscribeLive({
    fromSeq: recorded + 1,
    filterTypes: ["context.node_upserted"],
    handler: (event) => {
      if (event.type !== "context.node_upserted") return;
      const mark = event.payload.attributes.part_of;
      const at = typeof mark === "string" ? sent.get(mark) : undefined;
      if (at !== undefined) {
        latencies.push(performance.now() - at);
        sent.delete(mark as string);
      }
    },
  });
  const total = RATE * SECONDS;
  const tl = performance.now();
  const inflight: Promise<number>[] = [];
  for (let i = 0; i < total; i++) {
    const due = tl + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const ns = namespaces[i % NAMESPACES] as string;
    const name = `app-${Math.floor(i / NAMESPACES) % perNamespace}`;
    const mark = `round-${run}-${i}`;
    sent.set(mark, performance.now());
    inflight.push(
      patch(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`, {
        metadata: { labels: { "app.kubernetes.io/part-of": mark } },
      }),
    );
  }
  const statuses = await Promise.all(inflight);
  const madeIn = (performance.now() - tl) / 1000;
  const deadline = Date.now() + 10_000;
  while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await live.stop();
  await service.stop();
  latencies.sort((a, b) => a - b);
  const failed = statuses.filter((s) => s >= 300).length;
  console.log(
    `change latency: ${total} changes in ${madeIn.toFixed(1)} s (${(total / madeIn).toFixed(0)}/s, ${failed} refused), ` +
      `${latencies.length} seen as context events; p50 ${pct(latencies, 0.5).toFixed(0)} ms, p99 ${pct(latencies, 0.99).toFixed(0)} ms, ` +
      `max ${(latencies.at(-1) ?? 0).toFixed(0)} ms (goal p99 < 500 ms)` +
      (latencies.length < total ? `; ${total - latencies.length} not seen within 10 s` : ""),
  );
} finally {
  await cleanup();
  await nc.close();
}

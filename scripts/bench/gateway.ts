/**
 * Gateway benchmark, one run:
 *
 *  1. raw `append` of plan.requested from this process (the ceiling),
 *  2. `POST /v1/plans` through the gateway (its real entry file, a separate
 *     process, dev-issuer token) with a keep-alive load generator on loopback:
 *     closed loop for throughput, then open loop at a fixed rate for latency
 *     (latency measured from the scheduled send time, so a stalled server
 *     cannot hide its queueing),
 *  3. WebSocket fan-out: N subscribers, events appended at a steady rate,
 *     delivery latency from just before the append to receipt.
 *
 *   node --import tsx scripts/bench/gateway.ts [--seconds 5] [--concurrency 64] [--rate 1000] [--subscribers 2000]
 *
 * Own stream prefix, schema and data dir; removed afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { v7 as uuidv7 } from "uuid";
import { newEvent } from "../../events/index.ts";
import { loadDevIssuer } from "../../lib/auth/index.ts";
import { parseConfig } from "../../lib/config/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  freePort,
  natsEnv,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "64" },
    rate: { type: "string", default: "1000" },
    subscribers: { type: "string", default: "2000" },
    events: { type: "string", default: "50" },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const rate = Number(values.rate);
const subscribers = Number(values.subscribers);
const fanoutEvents = Number(values.events);

const root = new URL("../../", import.meta.url).pathname;
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const fmt = (n: number) => n.toFixed(2);
function summary(latencies: number[]) {
  const s = [...latencies].sort((a, b) => a - b);
  return { p50: pct(s, 50), p99: pct(s, 99), max: s[s.length - 1] ?? NaN };
}

const prefix = uniqueName("bench");
const schema = uniqueName("bench");
const dataDir = mkdtempSync(join(tmpdir(), "wh-bench-"));
const port = await freePort();
const issuerUrl = `http://127.0.0.1:${port}/dev-issuer`;
const env = {
  ...(process.env as Record<string, string>),
  WHEELHOUSE_DATA_DIR: dataDir,
  ...natsEnv(),
  WHEELHOUSE_NATS__PREFIX: prefix,
  WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
  WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema,
  WHEELHOUSE_GATEWAY__PORT: String(port),
  WHEELHOUSE_GATEWAY__AUTH__MODE: "dev",
  WHEELHOUSE_GATEWAY__AUTH__ISSUER: issuerUrl,
  WHEELHOUSE_GATEWAY__RATE_LIMIT_PER_MINUTE: "100000000",
  WHEELHOUSE_LOG__FORMAT: "json",
  WHEELHOUSE_LOG__LEVEL: "warn",
};

const nc = await connectTestNats();
const store = createEventStore({ nc, prefix });
await store.provision();
let gateway: ChildProcess | null = null;

try {
  // 1. Raw append, closed loop.
  const actor = { kind: "user" as const, id: "bench", roles: ["operator" as const] };
  const appendLatencies: number[] = [];
  let appended = 0;
  const appendEnd = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < appendEnd) {
        const id = uuidv7();
        const t0 = performance.now();
        await store.append(
          [
            newEvent(
              "plan.requested",
              id,
              { plan_id: id, intent: "scale checkout to 6", source: "api" },
              { actor, correlation_id: id },
            ),
          ],
          { expectedVersion: "none" },
        );
        appendLatencies.push(performance.now() - t0);
        appended++;
      }
    }),
  );
  const rawRate = appended / seconds;
  const raw = summary(appendLatencies);
  console.log(
    `raw append     ${fmt(rawRate)} events/s  p50 ${fmt(raw.p50)} ms  p99 ${fmt(raw.p99)} ms  (concurrency ${concurrency})`,
  );

  // 2. The gateway as its own process.
  gateway = spawn(process.execPath, ["--import", "tsx", "services/gateway/main.ts"], {
    cwd: root,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  await waitFor("gateway ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  const auth = parseConfig({ gateway: { auth: { mode: "dev", issuer: issuerUrl } } }).gateway.auth;
  const issuer = await loadDevIssuer(join(dataDir, "dev-issuer"), issuerUrl);
  const token = await issuer.mint({
    sub: "bench",
    roles: ["operator", "viewer"],
    audience: auth.audience,
    rolesClaim: auth.roles_claim,
    roleMap: auth.role_map,
  });

  const agent = new Agent({ keepAlive: true, maxSockets: Math.max(concurrency, 256) });
  const body = JSON.stringify({
    intent: "scale checkout to 6 in staging",
    environment: "staging",
    service: "checkout",
  });
  const postPlan = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/v1/plans",
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  // Warm-up (JIT, JWKS cache, connection pool).
  for (let i = 0; i < 200; i++) await postPlan();

  let accepted = 0;
  let failed = 0;
  const httpLatencies: number[] = [];
  const httpEnd = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < httpEnd) {
        const t0 = performance.now();
        const status = await postPlan();
        httpLatencies.push(performance.now() - t0);
        if (status === 202) accepted++;
        else failed++;
      }
    }),
  );
  const httpRate = accepted / seconds;
  const closed = summary(httpLatencies);
  console.log(
    `POST /v1/plans ${fmt(httpRate)} accepted/s  p50 ${fmt(closed.p50)} ms  p99 ${fmt(closed.p99)} ms  (closed loop, concurrency ${concurrency}, ${failed} not 202)  = ${fmt(httpRate / rawRate)}x raw append`,
  );

  // Open loop at a fixed rate.
  const openLatencies: number[] = [];
  let openFailed = 0;
  const total = rate * seconds;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = start + (i * 1000) / rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      postPlan().then((status) => {
        openLatencies.push(performance.now() - scheduled);
        if (status !== 202) openFailed++;
      }),
    );
  }
  await Promise.all(inflight);
  const open = summary(openLatencies);
  console.log(
    `POST /v1/plans at ${rate} req/s (open loop, ${total} requests): p50 ${fmt(open.p50)} ms  p99 ${fmt(open.p99)} ms  max ${fmt(open.max)} ms  (${openFailed} not 202)`,
  );
  agent.destroy();

  // 3. WebSocket fan-out.
  const wsUrl = `ws://127.0.0.1:${port}/v1/ws?access_token=${token}`;
  const received: { text: string; at: number }[] = [];
  const sockets: WebSocket[] = [];
  console.log("connecting subscribers");
  for (let i = 0; i < subscribers; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, subscribers - i) }, async () => {
        const ws = new WebSocket(wsUrl);
        sockets.push(ws);
        await new Promise<void>((resolve, reject) => {
          ws.addEventListener("message", function onReady(m) {
            if (String(m.data).includes('"ready"')) {
              ws.send(JSON.stringify({ type: "subscribe", topics: ["plan.updated"] }));
            } else if (String(m.data).includes('"subscribed"')) {
              ws.removeEventListener("message", onReady);
              resolve();
            }
          });
          ws.addEventListener("error", (e) =>
            reject(new Error(`ws error ${String((e as { message?: string }).message)}`)),
          );
          ws.addEventListener("close", (e) => reject(new Error(`ws closed ${e.code} ${e.reason}`)));
        });
        ws.addEventListener("message", (m) => {
          const text = String(m.data);
          if (text.startsWith('{"type":"event"'))
            received.push({ text, at: performance.timeOrigin + performance.now() });
        });
      }),
    );
  }
  console.log(`${sockets.length} subscribers ready`);
  for (let i = 0; i < fanoutEvents; i++) {
    const id = uuidv7();
    const sentAt = performance.timeOrigin + performance.now();
    await store.append([
      newEvent(
        "plan.requested",
        id,
        { plan_id: id, intent: `fanout ${sentAt}`, source: "api" },
        { actor, correlation_id: id },
      ),
    ]);
    await new Promise((r) => setTimeout(r, 20));
  }
  await waitFor("every subscriber to get every event", () => received.length >= subscribers * fanoutEvents, {
    timeoutMs: 60_000,
    intervalMs: 50,
  }).catch(() => undefined);
  const deliveries = received.map((r) => {
    const sentAt = Number(/"intent":"fanout ([\d.]+)"/.exec(r.text)?.[1]);
    return r.at - sentAt;
  });
  const fan = summary(deliveries);
  console.log(
    `WebSocket fan-out to ${subscribers} subscribers, ${fanoutEvents} events: ${received.length}/${subscribers * fanoutEvents} delivered  p50 ${fmt(fan.p50)} ms  p99 ${fmt(fan.p99)} ms  max ${fmt(fan.max)} ms`,
  );
  for (const ws of sockets) ws.close();
} finally {
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((r) => gateway?.once("exit", r));
    gateway.kill("SIGTERM");
    await exited;
  }
  await deleteStreams(nc, prefix);
  await nc.close();
  await dropSchemas(schema);
  rmSync(dataDir, { recursive: true, force: true });
  console.log("cleaned up");
}

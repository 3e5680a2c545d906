/**
 * Gateway benchmark, one run:
 *
 *  1. `POST /v1/plans` through the gateway (its real entry file, a separate process, dev-issuer
 *     token) with a keep-alive load generator on loopback, closed loop, against a raw `append`
 *     of plan.requested from this process (the ceiling): one-second rounds of each, interleaved,
 *     so that both see the same machine (on a shared machine the load moves within seconds);
 *  2. the same at a fixed rate, open loop (latency from the scheduled send time, so a stalled
 *     server cannot hide its queueing), again in one-second slices interleaved with raw appends
 *     at that rate, whose tail is what the machine and NATS add whatever the gateway does;
 *  3. WebSocket fan-out: N subscribers (in a process of their own, `support/ws-clients.ts`, so
 *     that their receiving does not queue behind this process's work), events appended at a
 *     steady rate, delivery latency from just before the append to receipt.
 *
 *   npm run bench -- gateway [--seconds 5] [--concurrency 64] [--rate 1000] [--subscribers 2000]
 *     [--events 50] [--phases closed,open,ws] [--profile <dir>] [--gateway-flag=--trace-gc ...]
 *
 * The intents cycle through plain text, text that passes the redactor's prefilter (so the full
 * detector set runs) and text with a secret in it (redacted), so redaction is paid as in use.
 * Besides latencies, each phase prints what the gateway spent (CPU per request or per delivered
 * message, event-loop delay p99/max, GC pauses: read from its /metrics before and after), this
 * process's CPU and the load average at its start and end: absolute figures mean little on a
 * loaded machine, ratios and CPU per request more. `--profile <dir>` starts the gateway with
 * `--cpu-prof` into that directory (one profile per run; pick phases with `--phases`);
 * `--gateway-flag` passes a Node.js flag to the gateway (`--gateway-flag=--trace-gc`).
 *
 * Own stream prefix, schema and data dir; removed afterwards.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
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
import { load, measurer } from "./support/measure.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "64" },
    rate: { type: "string", default: "1000" },
    subscribers: { type: "string", default: "2000" },
    events: { type: "string", default: "50" },
    phases: { type: "string", default: "closed,open,ws" },
    profile: { type: "string" },
    "gateway-flag": { type: "string", multiple: true, default: [] },
  },
});
const phases = new Set(values.phases.split(",").map((p) => p.trim()));
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
/** The monotonic clock in ms, the same in every process of the machine (the subscribers' too). */
const monotonicMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;

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

const measured = measurer(`http://127.0.0.1:${port}`);

const nc = await connectTestNats();
const store = createEventStore({ nc, prefix });
await store.provision();
let gateway: ChildProcess | null = null;
let clients: ChildProcess | null = null;
const actor = { kind: "user" as const, id: "bench", roles: ["operator" as const] };

/** One raw append of a new plan's plan.requested, as the gateway would record it. */
async function appendOne(): Promise<void> {
  const id = uuidv7();
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
}

/** Raw appends from this process, closed loop, for `ms`. */
async function rawAppends(ms: number, latencies: number[]): Promise<number> {
  let appended = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await appendOne();
        latencies.push(performance.now() - t0);
        appended++;
      }
    }),
  );
  return appended;
}

try {
  console.log(`load at start ${load()}`);
  const profile = values.profile === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", values.profile];
  const flags = [...profile, ...values["gateway-flag"]];
  gateway = spawn(process.execPath, [...flags, "--import", "tsx", "services/gateway/main.ts"], {
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
  // Plain text (the prefilter skips it), text the prefilter lets through to every detector, and a
  // pasted secret that is redacted: what operators type, so the redaction is paid as in use.
  const bodies = [
    "scale checkout to 6 in staging",
    "rotate the checkout api token in staging after the auth incident",
    "restart deployment checkout-frontend-canary-v2 in staging",
    "deploy checkout to staging with password: hunter2hunter2x",
  ].map((intent) => JSON.stringify({ intent, environment: "staging", service: "checkout" }));
  let sent = 0;
  const postPlan = () =>
    new Promise<number>((resolve, reject) => {
      const body = bodies[sent++ % bodies.length] as string;
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

  if (phases.has("closed")) {
    let appended = 0;
    let accepted = 0;
    let failed = 0;
    const appendLatencies: number[] = [];
    const httpLatencies: number[] = [];
    const ratios: number[] = [];
    const spent = await measured(async () => {
      for (let round = 0; round < seconds; round++) {
        const roundAppended = await rawAppends(1000, appendLatencies);
        appended += roundAppended;
        let roundAccepted = 0;
        const end = performance.now() + 1000;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (performance.now() < end) {
              const t0 = performance.now();
              const status = await postPlan();
              httpLatencies.push(performance.now() - t0);
              if (status === 202) roundAccepted++;
              else failed++;
            }
          }),
        );
        accepted += roundAccepted;
        ratios.push(roundAccepted / Math.max(1, roundAppended));
      }
      return { units: accepted, unit: "request" };
    });
    const raw = summary(appendLatencies);
    const closed = summary(httpLatencies);
    const sortedRatios = [...ratios].sort((a, b) => a - b);
    console.log(
      `raw append     ${fmt(appended / seconds)} events/s  p50 ${fmt(raw.p50)} ms  p99 ${fmt(raw.p99)} ms  (concurrency ${concurrency}, ${seconds} one-second rounds)`,
    );
    console.log(
      `POST /v1/plans ${fmt(accepted / seconds)} accepted/s  p50 ${fmt(closed.p50)} ms  p99 ${fmt(closed.p99)} ms  (closed loop, concurrency ${concurrency}, ${failed} not 202, rounds interleaved with the raw append's)  = ${fmt(accepted / appended)}x raw append (per round: min ${fmt(sortedRatios[0] ?? NaN)} median ${fmt(pct(sortedRatios, 50))} max ${fmt(sortedRatios.at(-1) ?? NaN)})`,
    );
    console.log(spent);
  }

  if (phases.has("open")) {
    // One-second slices of raw appends and of POSTs at the same rate, interleaved: the raw appends'
    // tail is what the machine (NATS included) adds anyway, the floor under the gateway's.
    const rawLatencies: number[] = [];
    const openLatencies: number[] = [];
    let openFailed = 0;
    const perSlice = rate;
    const openLoop = async (send: () => Promise<boolean>, latencies: number[]) => {
      const start = performance.now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < perSlice; i++) {
        const scheduled = start + (i * 1000) / rate;
        const wait = scheduled - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        inflight.push(
          send().then((ok) => {
            latencies.push(performance.now() - scheduled);
            if (!ok) openFailed++;
          }),
        );
      }
      await Promise.all(inflight);
    };
    const rawAppend = async () => {
      await appendOne();
      return true;
    };
    const spent = await measured(async () => {
      for (let slice = 0; slice < seconds; slice++) {
        await openLoop(rawAppend, rawLatencies);
        await openLoop(async () => (await postPlan()) === 202, openLatencies);
      }
      return { units: openLatencies.length, unit: "request" };
    });
    const raw = summary(rawLatencies);
    const open = summary(openLatencies);
    console.log(
      `raw append at ${rate}/s     (open loop, ${rawLatencies.length} appends): p50 ${fmt(raw.p50)} ms  p99 ${fmt(raw.p99)} ms  max ${fmt(raw.max)} ms`,
    );
    console.log(
      `POST /v1/plans at ${rate} req/s (open loop, ${openLatencies.length} requests, one-second slices interleaved with the raw appends'): p50 ${fmt(open.p50)} ms  p99 ${fmt(open.p99)} ms  max ${fmt(open.max)} ms  (${openFailed} not 202)`,
    );
    console.log(spent);
  }
  agent.destroy();

  if (phases.has("ws")) {
    const expected = subscribers * fanoutEvents;
    const child = fork(join(root, "scripts/bench/support/ws-clients.ts"), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    clients = child;
    const nextMessage = <T>(type: string) =>
      new Promise<T>((resolve, reject) => {
        const onMessage = (m: { type: string; message?: string }) => {
          if (m.type === "error") reject(new Error(`subscribers: ${m.message}`));
          else if (m.type === type) {
            child.off("message", onMessage);
            resolve(m as T);
          }
        };
        child.on("message", onMessage);
      });
    console.log("connecting subscribers");
    const ready = nextMessage<{ subscribers: number }>("ready");
    child.send({
      type: "connect",
      port,
      path: `/v1/ws?access_token=${token}`,
      count: subscribers,
      topics: ["plan.updated"],
      expected,
    });
    console.log(`${(await ready).subscribers} subscribers ready`);
    const done = nextMessage("done");
    const spent = await measured(async () => {
      for (let i = 0; i < fanoutEvents; i++) {
        const id = uuidv7();
        const sentAt = monotonicMs();
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
      await Promise.race([done, new Promise((r) => setTimeout(r, 60_000))]);
      return { units: expected, unit: "message" };
    });
    const report = nextMessage<{ received: number; latencies: number[]; cpuMs: number }>("report");
    child.send({ type: "report" });
    const { received, latencies, cpuMs } = await report;
    const fan = summary(latencies);
    console.log(
      `WebSocket fan-out to ${subscribers} subscribers, ${fanoutEvents} events: ${received}/${expected} delivered  p50 ${fmt(fan.p50)} ms  p99 ${fmt(fan.p99)} ms  max ${fmt(fan.max)} ms  (subscribers' process: cpu ${fmt((cpuMs * 1000) / Math.max(1, received))} us/message)`,
    );
    console.log(spent);
    child.send({ type: "close" });
  }
  console.log(`load at end ${load()}`);
} finally {
  clients?.kill("SIGTERM");
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

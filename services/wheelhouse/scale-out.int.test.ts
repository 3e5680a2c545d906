/**
 * Scale-out drill: a 3-node NATS cluster of the test's own (R3 streams, `nats.replicas: 3`) and two
 * embedded Wheelhouse processes on one Postgres schema and one Temporal task queue. Keyed
 * `POST /v1/plans` go through both gateways (a client retries a failed one, with the same key,
 * through whichever gateway is up) while the drill SIGKILLs a node that leads nothing of the
 * events stream, then the stream's leader (each restarted once the cluster is whole again), then
 * one process. It must show: no key lost, none appended twice, every plan proposed and decided
 * once; intake back within the leader election (< 10 s) and the planner and policy consumers within
 * 5 s after it; and never a 409 for a key whose first request was in flight.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { createEventStore, type EventStore } from "../../lib/eventstore/index.ts";
import { type OidcFixture, startOidcFixture } from "../../test/fixtures/oidc/server.ts";
import {
  dropSchemas,
  freePort,
  type NatsCluster,
  schemaPool,
  startNatsCluster,
  testEnv,
  uniqueName,
  waitFor,
  withDeadline,
} from "../../test/support/index.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const NODE = join(ROOT, "node_modules", ".bin", "node");
/** Requests a second across both gateways: a few hundred in the drill, on a two-core machine. */
const PER_SECOND = 5;
/** Keys sent in all, at least. */
const MIN_KEYS = 200;
/** A key still not accepted after this is lost (the test fails): no retry loop runs for ever. */
const KEY_DEADLINE_MS = 60_000;
const ELECTION_MS = 10_000;
const CONSUMERS_AFTER_ELECTION_MS = 5_000;

interface Process {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly log: () => string;
  readonly exited: Promise<void>;
}

/** What happened to one key: when it was first sent, when a 202 came back, every status seen. */
interface KeyRecord {
  readonly key: string;
  readonly sentAt: number;
  acceptedAt: number | null;
  planId: string | null;
  readonly statuses: (number | string)[];
}

describe("scale-out drill: R3 cluster, two processes, nodes and a process killed", () => {
  const prefix = uniqueName("scale");
  const schema = uniqueName("scale");
  const taskQueue = uniqueName("scale");
  const dirs: string[] = [];
  const processes: Process[] = [];
  let cluster: NatsCluster;
  let idp: OidcFixture;
  let nc: NatsConnection;
  let store: EventStore;
  /** The load runs while this is true; `after` stops it whatever the test reached. */
  let sending = true;
  let passed = false;
  let stopLive: () => Promise<void> = async () => undefined;

  before(async () => {
    cluster = await startNatsCluster("scale");
    idp = await startOidcFixture();
    nc = await cluster.connect();
    store = createEventStore({ nc, prefix });
  });

  after(async () => {
    sending = false;
    if (!passed) {
      for (const p of processes)
        process.stdout.write(`--- process ${p.name}, last lines:\n${p.log().split("\n").slice(-15).join("\n")}\n`);
    }
    await stopLive();
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await Promise.all(processes.map((p) => p.exited));
    await nc?.close();
    await cluster?.stop();
    await idp?.stop();
    await dropSchemas(schema);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function startProcess(name: string): Promise<Process> {
    const dir = mkdtempSync(join(tmpdir(), `wh-scale-${name}-`));
    dirs.push(dir);
    const [gatewayPort, routerPort, contextPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...cluster.env("embedded"),
      WHEELHOUSE_NATS__PREFIX: prefix,
      WHEELHOUSE_NATS__REPLICAS: "3",
      // A killed process's events go to the other after this; a handler working on one extends it.
      WHEELHOUSE_NATS__ACK_WAIT_MS: "5000",
      WHEELHOUSE_DATA_DIR: dir,
      WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
      WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema,
      WHEELHOUSE_STORAGE__EVIDENCE__KIND: "local",
      WHEELHOUSE_STORAGE__EVIDENCE__PATH: join(dir, "evidence"),
      WHEELHOUSE_ORCHESTRATOR__TEMPORAL_ADDRESS: testEnv.temporalAddress,
      WHEELHOUSE_ORCHESTRATOR__TASK_QUEUE: taskQueue,
      WHEELHOUSE_GATEWAY__PORT: String(gatewayPort),
      WHEELHOUSE_GATEWAY__AUTH__MODE: "oidc",
      WHEELHOUSE_GATEWAY__AUTH__ISSUER: idp.issuer,
      WHEELHOUSE_GATEWAY__AUTH__JWKS_URL: idp.jwksUrl,
      WHEELHOUSE_GATEWAY__AUTH__ALGORITHMS: "[RS256]",
      WHEELHOUSE_TOOLS__ROUTER_PORT: String(routerPort),
      WHEELHOUSE_CONTEXT__PORT: String(contextPort),
      WHEELHOUSE_POLICY__WATCH: "false",
      WHEELHOUSE_DRAIN_TIMEOUT_MS: "10000",
      WHEELHOUSE_LOG__FORMAT: "json",
      WHEELHOUSE_LOG__LEVEL: "warn",
    };
    delete env.WHEELHOUSE_CONFIG;
    // No cluster to watch: the context service stays idle.
    delete env.KUBECONFIG;
    const child = spawn(NODE, ["--import", "tsx", "services/wheelhouse/main.ts"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = `http://127.0.0.1:${gatewayPort}`;
    const started: Process = { name, url, child, log: () => log, exited };
    processes.push(started);
    await waitFor(
      `process ${name} to serve /healthz`,
      async () => {
        if (child.exitCode !== null) throw new Error(`process ${name} exited ${child.exitCode}: ${log.slice(-2000)}`);
        return (await fetch(`${url}/healthz`).catch(() => null))?.ok;
      },
      // Start-up bundles the workflow code and compiles the services: on a loaded two-core machine that
      // alone took a minute. Nothing here is a latency the drill asserts.
      { timeoutMs: 150_000, intervalMs: 200 },
    );
    return started;
  }

  const alive = (p: Process) => p.child.exitCode === null && p.child.signalCode === null;

  it("loses nothing, duplicates nothing, and resumes within the election", async () => {
    const [a, b] = [await startProcess("a"), await startProcess("b")];
    const jsm = await jetstreamManager(nc);
    const events = store.streams.events;
    assert.equal((await jsm.streams.info(events)).config.num_replicas, 3, "the events stream is R3");
    assert.equal(
      (await jsm.streams.info(`KV_${prefix}_idempotency`)).config.num_replicas,
      3,
      "the idempotency bucket is R3",
    );

    const token = await idp.sign({ sub: "alice", groups: ["wheelhouse-operators"] }, { expiresIn: "1h" });
    const records: KeyRecord[] = [];
    /** Each 202: when its request was sent and when it came back, for the intake gaps. */
    const accepted: { readonly sentAt: number; readonly at: number }[] = [];
    let conflicts = 0;
    let turn = 0;

    /** One key, sent until a gateway accepts it: a failure is retried with the same key through the next gateway up. */
    const send = async (record: KeyRecord) => {
      for (let attempt = 0; Date.now() - record.sentAt < KEY_DEADLINE_MS; attempt++) {
        const up = [a, b].filter(alive);
        const via = up[(turn++ + attempt) % up.length] as Process;
        const sentAt = Date.now();
        const res = await fetch(`${via.url}/v1/plans`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "idempotency-key": record.key,
          },
          body: JSON.stringify({ intent: `restart checkout in staging (${record.key})` }),
          signal: AbortSignal.timeout(20_000),
        }).catch((e: unknown) => (e as Error).name);
        if (typeof res === "string") {
          record.statuses.push(res);
        } else {
          record.statuses.push(res.status);
          if (res.status === 409) conflicts++;
          if (res.status === 202) {
            record.planId = ((await res.json()) as { id: string }).id;
            record.acceptedAt = Date.now();
            accepted.push({ sentAt, at: record.acceptedAt });
            return;
          }
          await res.body?.cancel();
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const inFlight: Promise<void>[] = [];
    const load = (async () => {
      for (let n = 0; sending; n++) {
        const record: KeyRecord = {
          key: `scale-${n}`,
          sentAt: Date.now(),
          acceptedAt: null,
          planId: null,
          statuses: [],
        };
        records.push(record);
        inFlight.push(send(record));
        await new Promise((resolve) => setTimeout(resolve, 1000 / PER_SECOND));
      }
    })();
    /** How long intake stopped after `at`: from `at` to the first 202 to a request sent after it. */
    const intakeGapAfter = (at: number) =>
      waitFor(
        "intake to resume",
        () => {
          const next = accepted.find((r) => r.sentAt >= at);
          return next === undefined ? null : next.at - at;
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
    /**
     * Every plan event on the stream so far, from one live subscription that started at the first
     * sequence: it follows the kills itself (its consumer is made again on a node that is up), so a
     * check reads what it has instead of asking a cluster in an election for the whole stream.
     */
    const collected: AnyRecordedEvent[] = [];
    const live = await store.subscribeLive({
      fromSeq: 1,
      handler: (e) => {
        if (e.aggregate_type === "plan") collected.push(e);
      },
    });
    stopLive = () => live.stop();
    const planEvents = async () => [...collected];
    /** Waits until every replica of the events stream is current again (a restarted node caught up). */
    const wholeAgain = () =>
      waitFor(
        "every replica of the events stream current",
        async () => {
          const info = await jsm.streams.info(events);
          const replicas = info.cluster?.replicas ?? [];
          return replicas.length === 2 && replicas.every((r) => r.current && !r.offline);
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );

    const t0 = Date.now();
    const phase = (what: string) => process.stdout.write(`[drill +${Date.now() - t0} ms] ${what}\n`);
    await waitFor("some plans accepted before anything is killed", () => accepted.length >= 10, { timeoutMs: 30_000 });

    // 1. A node that leads neither the events stream nor the idempotency keys (there is always one of
    // three): appends and claims go on; clients on it move to another node.
    const leaders = new Set([
      await cluster.streamLeader(nc, events),
      await cluster.streamLeader(nc, `KV_${prefix}_idempotency`),
    ]);
    const follower = cluster.nodes.find((n) => !leaders.has(n.name))?.name as string;
    phase(`killing ${follower} (leads neither the events stream nor the idempotency keys)`);
    const killedFollowerAt = Date.now();
    await withDeadline(`${follower} to exit`, cluster.kill(follower), 10_000);
    const followerGap = await intakeGapAfter(killedFollowerAt);
    phase(`intake back ${followerGap} ms after; restarting ${follower}`);
    await cluster.restart(follower);
    phase("waiting for every replica to be current again");
    await wholeAgain();

    // 2. The events stream's leader: intake waits for the election, the consumers follow.
    const leader = await cluster.streamLeader(nc, events);
    phase(`killing ${leader}, the events stream's leader`);
    const killedLeaderAt = Date.now();
    await withDeadline(`${leader} to exit`, cluster.kill(leader), 10_000);
    // When each consumer answers from a leader again (at once if its leader was on another node).
    const consumerAnswers = (durable: string) =>
      cluster.consumerLeader(nc, events, durable, 20_000).then(() => Date.now());
    const consumersBack = Promise.all([consumerAnswers("planner"), consumerAnswers("policy")]);
    const leaderGap = await intakeGapAfter(killedLeaderAt);
    // The new leader accepts appends from the first 202 after the kill. A consumer whose own leader
    // died with the node waits for its election too (the server's, as long as a stream's): each
    // consumer counts from the later of the two.
    const electedAt = killedLeaderAt + leaderGap;
    assert.notEqual(await cluster.streamLeader(nc, events, 20_000), leader);
    const [plannerElectedAt, policyElectedAt] = (await consumersBack).map((at) => Math.max(electedAt, at)) as [
      number,
      number,
    ];
    const resumed = async (type: string, since: number) =>
      waitFor(
        `a ${type} recorded after the election`,
        async () => {
          const found = (await planEvents()).find((e) => e.type === type && Date.parse(e.occurred_at) > since);
          return found ? Date.parse(found.occurred_at) - since : null;
        },
        // The latency is measured from the events' own timestamps; this only bounds how long they may take to arrive.
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    const plannerAfter = await resumed("plan.proposed", plannerElectedAt);
    const policyAfter = await resumed("policy.decided", policyElectedAt);
    phase(
      `intake back ${leaderGap} ms after; planner ${plannerAfter} ms, policy ${policyAfter} ms after their election; restarting ${leader}`,
    );
    await cluster.restart(leader);
    phase("waiting for every replica to be current again");
    await wholeAgain();

    // 3. One process: the other takes its keys, its events and its read models over.
    phase("killing process a");
    const killedProcessAt = Date.now();
    a.child.kill("SIGKILL");
    await withDeadline("process a to exit", a.exited, 10_000);
    const processGap = await intakeGapAfter(killedProcessAt);
    await waitFor(
      "more plans through the process left, and a few hundred keys in all",
      () => accepted.filter((r) => r.sentAt > killedProcessAt).length >= 10 && records.length >= MIN_KEYS,
      { timeoutMs: 60_000 },
    );
    phase(`intake back ${processGap} ms after; stopping the load`);
    sending = false;
    await withDeadline("the load to stop", Promise.all([load, ...inFlight]), KEY_DEADLINE_MS + 30_000);

    phase("waiting for every plan to be proposed and decided");
    // Every plan proposed and decided, by whichever process was up.
    const ids = new Set(records.map((r) => r.planId as string));
    const byPlan = new Map<string, AnyRecordedEvent[]>();
    await waitFor(
      "every plan proposed and decided",
      async () => {
        byPlan.clear();
        for (const e of await planEvents()) byPlan.set(e.aggregate_id, [...(byPlan.get(e.aggregate_id) ?? []), e]);
        return [...ids].every((id) => {
          const types = (byPlan.get(id) ?? []).map((e) => e.type);
          return types.includes("plan.proposed") && types.includes("policy.decided");
        });
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );

    // The read models too: the process left took over the projections the killed one held.
    const pool = schemaPool(schema);
    try {
      await waitFor(
        "every plan in the read model",
        async () =>
          Number(
            (await pool.query("SELECT count(*) AS n FROM plans WHERE plan_id = ANY($1::text[])", [[...ids]])).rows[0].n,
          ) === ids.size,
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      await pool.end();
    }

    const report = {
      requests: records.length,
      attempts: records.reduce((n, r) => n + r.statuses.length, 0),
      follower_kill_gap_ms: followerGap,
      leader_kill_gap_ms: leaderGap,
      planner_elected_after_stream_ms: plannerElectedAt - electedAt,
      policy_elected_after_stream_ms: policyElectedAt - electedAt,
      planner_after_election_ms: plannerAfter,
      policy_after_election_ms: policyAfter,
      process_kill_gap_ms: processGap,
      failed_statuses: records.flatMap((r) => r.statuses.filter((s) => s !== 202)),
    };
    process.stdout.write(`scale-out drill: ${JSON.stringify(report)}\n`);

    assert.equal(records.filter((r) => r.planId === null).length, 0, "every key accepted");
    assert.equal(ids.size, records.length, "one plan per key");
    assert.equal(conflicts, 0, "no 409 for a key whose first request was in flight");
    const requested = [...byPlan.values()].flat().filter((e) => e.type === "plan.requested");
    assert.equal(requested.length, records.length, "no key appended twice");
    for (const id of ids) {
      const types = (byPlan.get(id) ?? []).map((e) => e.type);
      assert.equal(types.filter((t) => t === "plan.requested").length, 1, `plan ${id} requested once`);
      assert.equal(types.filter((t) => t === "plan.proposed").length, 1, `plan ${id} proposed once`);
      assert.equal(types.filter((t) => t === "policy.decided").length, 1, `plan ${id} decided once`);
    }
    assert.ok(followerGap < ELECTION_MS, `intake stopped ${followerGap} ms when a follower node died`);
    assert.ok(leaderGap < ELECTION_MS, `intake stopped ${leaderGap} ms when the leader died`);
    assert.ok(plannerAfter < CONSUMERS_AFTER_ELECTION_MS, `the planner resumed ${plannerAfter} ms after the election`);
    assert.ok(policyAfter < CONSUMERS_AFTER_ELECTION_MS, `policy resumed ${policyAfter} ms after the election`);
    assert.ok(processGap < ELECTION_MS, `intake stopped ${processGap} ms when a process died`);
    void b;
    passed = true;
  });
});

/**
 * A NATS cluster of a test's own: `size` nats-server processes (the local stack's binary, 2.12+)
 * clustered on loopback, each on free ports with its JetStream store under its own directory in
 * /tmp, with the local stack's users and permissions (scripts/nats-auth.ts; the seeds under
 * `.data/nats/auth`, so `natsOptions(user)` and `natsEnv(user)` credentials work here too). A node
 * can be SIGKILLed and started again on the same ports and store, and the leader of a stream found.
 *
 * ```ts
 * const cluster = await startNatsCluster("drill");
 * const nc = await cluster.connect();
 * const leader = await cluster.streamLeader(nc, "WH_EVENTS");
 * await cluster.kill(leader);
 * await cluster.restart(leader);
 * await cluster.stop();
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { type ConnectionOptions, connect, type NatsConnection, nkeys } from "@nats-io/transport-node";
import { type NatsUserName, natsUsers, renderAuthConf } from "../../scripts/nats-auth.ts";
import { natsCredentials, natsOptions } from "./env.ts";
import { freePort } from "./net.ts";
import { waitFor } from "./wait.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** The local stack's nats-server (scripts/setup puts it in .tools/bin), else the one on PATH. */
function natsServerBinary(): string {
  const local = join(process.env.WH_TOOLS_BIN ?? join(ROOT, ".tools", "bin"), "nats-server");
  return existsSync(local) ? local : "nats-server";
}

export interface NatsClusterNode {
  /** `server_name`, as stream infos name their leader and replicas. */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  /** Whether the process is running (not killed or stopped). */
  readonly running: boolean;
}

export interface NatsCluster {
  /** Every node's client URL. */
  readonly urls: readonly string[];
  readonly nodes: readonly NatsClusterNode[];
  /** Where its stores, configs and logs are. */
  readonly dir: string;
  /** A connection to the cluster (every node listed) as `user`, `admin` by default. */
  connect(user?: string, extra?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  /** Environment for a Wheelhouse child process: every node's URL and `user`'s credentials. */
  env(user?: string): Record<string, string>;
  /** SIGKILLs a node and waits for its process to be gone. */
  kill(name: string): Promise<void>;
  /** Starts a killed node again (same ports and store) and waits until it reports healthy. */
  restart(name: string): Promise<void>;
  /** The node leading `stream` (JetStream `STREAM.INFO`, `cluster.leader`), once there is one. */
  streamLeader(nc: NatsConnection, stream: string, timeoutMs?: number): Promise<string>;
  /** The node leading durable `consumer` of `stream` (`CONSUMER.INFO`, `cluster.leader`), once there is one. */
  consumerLeader(nc: NatsConnection, stream: string, consumer: string, timeoutMs?: number): Promise<string>;
  /** Waits until every running node reports healthy (`/healthz`: JetStream current). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the directory. */
  stop(): Promise<void>;
}

interface NodeState {
  name: string;
  port: number;
  clusterPort: number;
  monitorPort: number;
  config: string;
  log: string;
  child: ChildProcess | null;
  exited: Promise<void>;
}

/**
 * Starts a cluster of `size` nodes (3 by default) named `<label>-1`…, and waits until JetStream has a
 * meta leader and every node is healthy.
 */
export async function startNatsCluster(label: string, size = 3): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), `wh-nats-cluster-${label}-`));
  writeFileSync(join(dir, "auth.conf"), localAuthConf(), { mode: 0o600 });
  const nodes: NodeState[] = [];
  for (let i = 1; i <= size; i++) {
    const name = `${label}-${i}`;
    mkdirSync(join(dir, name), { recursive: true });
    nodes.push({
      name,
      port: await freePort(),
      clusterPort: await freePort(),
      monitorPort: await freePort(),
      config: join(dir, `${name}.conf`),
      log: join(dir, `${name}.log`),
      child: null,
      exited: Promise.resolve(),
    });
  }
  for (const node of nodes) {
    const routes = nodes
      .filter((n) => n !== node)
      .map((n) => JSON.stringify(`nats-route://127.0.0.1:${n.clusterPort}`));
    writeFileSync(
      node.config,
      [
        `server_name: ${JSON.stringify(node.name)}`,
        `listen: 127.0.0.1:${node.port}`,
        `http: 127.0.0.1:${node.monitorPort}`,
        "max_payload: 8MB",
        `jetstream { store_dir: ${JSON.stringify(join(dir, node.name))} }`,
        `cluster { name: ${JSON.stringify(label)}, listen: 127.0.0.1:${node.clusterPort}, routes: [${routes.join(", ")}] }`,
        "include ./auth.conf",
        "",
      ].join("\n"),
    );
  }
  const launch = (node: NodeState) => {
    const out = openSync(node.log, "a");
    const child = spawn(natsServerBinary(), ["-c", node.config], { stdio: ["ignore", out, out] });
    node.child = child;
    node.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  };
  const healthy = async (node: NodeState) => {
    const res = await fetch(`http://127.0.0.1:${node.monitorPort}/healthz`, {
      signal: AbortSignal.timeout(2_000),
    }).catch(() => null);
    return res?.ok === true;
  };
  const byName = (name: string) => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name} in this cluster (${nodes.map((n) => n.name).join(", ")})`);
    return node;
  };
  const urls = nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  const running = (n: NodeState) => n.child !== null && n.child.exitCode === null && n.child.signalCode === null;
  /**
   * JetStream's meta leader counts every running node as a current peer. A node's own /healthz says
   * ok before that: a stream asked for right after a restart could not be placed on the node yet
   * ("too few nodes are up"). The leader is the node whose /jsz lists the others as replicas.
   */
  const metaCurrent = async () => {
    const up = nodes.filter(running);
    for (const node of up) {
      const jsz = (await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`, { signal: AbortSignal.timeout(2_000) })
        .then((r) => r.json())
        .catch(() => null)) as {
        meta_cluster?: { leader?: string; replicas?: { name: string; current?: boolean; offline?: boolean }[] };
      } | null;
      const meta = jsz?.meta_cluster;
      if (meta?.leader !== node.name) continue;
      return up
        .filter((n) => n.name !== node.name)
        .every((n) => meta.replicas?.some((r) => r.name === n.name && r.current === true && r.offline !== true));
    }
    return false;
  };
  const waitHealthy = async (timeoutMs = 30_000) => {
    await waitFor(
      "every running NATS node healthy and a current JetStream peer",
      async () => (await Promise.all(nodes.filter(running).map(healthy))).every(Boolean) && (await metaCurrent()),
      { timeoutMs, intervalMs: 100 },
    );
  };

  for (const node of nodes) launch(node);
  const cluster: NatsCluster = {
    urls,
    dir,
    get nodes() {
      return nodes.map((n) => ({
        name: n.name,
        url: `nats://127.0.0.1:${n.port}`,
        port: n.port,
        monitorPort: n.monitorPort,
        running: running(n),
      }));
    },
    connect: (user = "admin", extra = {}) => connect(natsOptions(user, { servers: [...urls], ...extra })),
    env(user = "embedded") {
      const ref = natsCredentials(user);
      return {
        WHEELHOUSE_NATS__URL: urls.join(","),
        ...(ref === undefined ? {} : { WHEELHOUSE_NATS__CREDENTIALS: ref }),
      };
    },
    async kill(name) {
      const node = byName(name);
      if (!running(node)) return;
      node.child?.kill("SIGKILL");
      await node.exited;
    },
    async restart(name) {
      const node = byName(name);
      if (running(node)) throw new Error(`node ${name} is running; kill it first`);
      launch(node);
      await waitFor(`NATS node ${name} healthy again`, () => healthy(node), { timeoutMs: 30_000, intervalMs: 100 });
      await waitFor(`NATS node ${name} a current JetStream peer again`, metaCurrent, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
    },
    async streamLeader(nc, stream, timeoutMs = 15_000) {
      const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
      return waitFor(
        `a leader for stream ${stream}`,
        async () => {
          const leader = (await jsm.streams.info(stream)).cluster?.leader;
          return leader && leader !== "" ? leader : null;
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    async consumerLeader(nc, stream, consumer, timeoutMs = 15_000) {
      const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
      return waitFor(
        `a leader for consumer ${consumer} of ${stream}`,
        async () => {
          const leader = (await jsm.consumers.info(stream, consumer)).cluster?.leader;
          return leader && leader !== "" ? leader : null;
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    waitHealthy,
    async stop() {
      for (const node of nodes) if (running(node)) node.child?.kill("SIGKILL");
      await Promise.all(nodes.map((n) => n.exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitHealthy();
  } catch (error) {
    const logs = nodes.map((n) => `${n.name}: ${readFileSync(n.log, "utf8").split("\n").slice(-5).join(" | ")}`);
    await cluster.stop();
    throw new Error(`the NATS cluster did not become healthy: ${(error as Error).message}\n${logs.join("\n")}`);
  }
  return cluster;
}

/**
 * The local stack's `authorization` block (scripts/nats-auth.ts), for the public keys of the seeds
 * `scripts/infra up` wrote (a user added since has no seed yet: a fresh key nobody holds stands in);
 * no users at all (an open server) when the stack runs without them.
 */
function localAuthConf(): string {
  const keys = {} as Record<NatsUserName, string>;
  let found = 0;
  for (const user of Object.keys(natsUsers) as NatsUserName[]) {
    const ref = natsCredentials(user);
    const pair =
      ref === undefined
        ? nkeys.createUser()
        : nkeys.fromSeed(new TextEncoder().encode(readFileSync(ref.slice("file:".length), "utf8").trim()));
    if (ref !== undefined) found++;
    keys[user] = pair.getPublicKey();
  }
  return found === 0 ? "# the local stack has no NATS users: no authorization\n" : renderAuthConf(keys);
}

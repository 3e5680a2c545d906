/**
 * The running system for e2e tests: the embedded process started as `npm start` starts it
 * (scripts/start: the local cluster's kubeconfig, the `embedded` NATS user, evidence in MinIO), with
 * its own NATS prefix, Postgres schema, task queue, buckets, data directory and ports, and the ways
 * a user talks to it: tokens from `npm run token`, the CLI, HTTP.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { testCluster } from "./cluster.ts";
import { natsEnv, testEnv } from "./env.ts";
import { minioClient, removeBuckets, uniqueBucketName } from "./minio.ts";
import { uniqueName } from "./names.ts";
import { connectTestNats, deleteStreams } from "./nats.ts";
import { freePort } from "./net.ts";
import { dropSchemas } from "./pg.ts";
import { waitFor } from "./wait.ts";

const root = join(import.meta.dirname, "..", "..");

/** What a CLI run printed and how it exited. */
export interface CliResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface EmbeddedSystem {
  /** `http://127.0.0.1:<gateway port>` */
  readonly url: string;
  /** The child's environment (PATH with the project's tools, KUBECONFIG, WHEELHOUSE_*). */
  readonly env: NodeJS.ProcessEnv;
  /** Everything the process printed so far. */
  output(): string;
  /** `npm run -s token -- --sub <sub> --roles <roles>` */
  token(sub: string, roles: string): Promise<string>;
  /** `npm run -s wheelhouse -- <args>` with WHEELHOUSE_URL and WHEELHOUSE_TOKEN exported; never throws. */
  cli(bearer: string, ...args: string[]): Promise<CliResult>;
  /** SIGTERM (SIGKILL after 20 s), then removes the streams, schema, buckets and data directory. */
  stop(): Promise<void>;
}

/**
 * Starts the embedded process; `extraEnv` adds or overrides WHEELHOUSE_* settings; `pathFirst`
 * folders go first on its PATH (the tool router runs the CLIs it finds there: fixture CLIs).
 */
export async function startEmbedded(
  name: string,
  extraEnv: NodeJS.ProcessEnv = {},
  { pathFirst = [] }: { pathFirst?: readonly string[] } = {},
): Promise<EmbeddedSystem> {
  const ports = { gateway: await freePort(), router: await freePort() };
  const prefix = uniqueName(name);
  const schema = uniqueName(`wh_${name}`);
  const buckets = { evidence: uniqueBucketName(`${name}-evidence`), artifacts: uniqueBucketName(`${name}-artifacts`) };
  const dataDir = mkdtempSync(join(tmpdir(), `wh-${name}-`));
  const url = `http://127.0.0.1:${ports.gateway}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // As scripts/start: env.sh puts the project's tools first on PATH; KUBECONFIG names the local cluster.
    PATH: [...pathFirst, join(root, "node_modules", ".bin"), testCluster.bin, process.env.PATH].join(":"),
    KUBECONFIG: testCluster.kubeconfig,
    ...natsEnv("embedded"),
    WHEELHOUSE_NATS__PREFIX: prefix,
    WHEELHOUSE_DATA_DIR: dataDir,
    WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
    WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema,
    WHEELHOUSE_STORAGE__PROJECTOR_REBUILD_ON_STREAM_CHANGE: "true",
    WHEELHOUSE_ORCHESTRATOR__TEMPORAL_ADDRESS: testEnv.temporalAddress,
    WHEELHOUSE_ORCHESTRATOR__TASK_QUEUE: uniqueName(name),
    WHEELHOUSE_STORAGE__EVIDENCE__KIND: "s3",
    WHEELHOUSE_STORAGE__EVIDENCE__ENDPOINT: testEnv.minioUrl,
    WHEELHOUSE_STORAGE__EVIDENCE__BUCKET: buckets.evidence,
    WHEELHOUSE_TOOLS__ARTIFACT_BUCKET: buckets.artifacts,
    WHEELHOUSE_S3_ACCESS_KEY: testEnv.minio.accessKey,
    WHEELHOUSE_S3_SECRET_KEY: testEnv.minio.secretKey,
    WHEELHOUSE_GATEWAY__PORT: String(ports.gateway),
    WHEELHOUSE_GATEWAY__AUTH__ISSUER: `${url}/dev-issuer`,
    WHEELHOUSE_TOOLS__ROUTER_PORT: String(ports.router),
    WHEELHOUSE_LOG__FORMAT: "json",
    ...extraEnv,
  };
  let output = "";
  // As scripts/start runs it (its young generation included); WH_EMBEDDED_NODE_FLAGS adds Node flags for
  // the child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` for a benchmark.
  const flags = ["--max-semi-space-size=32", ...(process.env.WH_EMBEDDED_NODE_FLAGS ?? "").split(/\s+/)].filter(
    (f) => f.length > 0,
  );
  const child: ChildProcess = spawn(process.execPath, [...flags, "--import", "tsx", "services/wheelhouse/main.ts"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    const nc = await connectTestNats();
    await deleteStreams(nc, prefix);
    await nc.close();
    await dropSchemas(schema);
    await removeBuckets(minioClient(), buckets.evidence, buckets.artifacts);
    rmSync(dataDir, { recursive: true, force: true });
  }

  // A process that stops during start-up (a missing kubeconfig, a bad config) fails the start at once.
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  try {
    await waitFor(
      "the embedded process to print its banner",
      () => output.includes("Wheelhouse is running") || ended(),
      // Bundling the workflow code alone took 26 s on this 2-core machine at load 19.
      { timeoutMs: 180_000, intervalMs: 200 },
    );
    if (ended()) throw new Error(`the embedded process exited (${child.signalCode ?? child.exitCode}) during start-up`);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- its output ---\n${output.slice(-4000)}`);
  }

  return {
    url,
    env,
    output: () => output,
    stop,
    token: async (sub, roles) =>
      (
        await execa(process.execPath, ["--import", "tsx", "scripts/mint-token.ts", "--sub", sub, "--roles", roles], {
          cwd: root,
          env,
        })
      ).stdout.trim(),
    async cli(bearer, ...args) {
      const run = await execa(process.execPath, ["--import", "tsx", "services/cli/main.ts", ...args], {
        cwd: root,
        env: { ...env, WHEELHOUSE_URL: url, WHEELHOUSE_TOKEN: bearer },
        reject: false,
      });
      return { exitCode: run.exitCode ?? -1, stdout: String(run.stdout), stderr: String(run.stderr) };
    },
  };
}

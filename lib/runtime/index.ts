/**
 * What every Wheelhouse process shares: validated configuration, a scrubbing
 * logger, one NATS connection with the provisioned event store, and the
 * database and evidence store opened on first use. A service is a function
 * `start(runtime) → { stop }`; `runServices` runs one (its own process) or
 * several (the embedded profile) with one runtime, handles signals, and turns
 * start-up failures into one clear message instead of a stack trace.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Config, loadConfig } from "../config/index.ts";
import { createDb, type Db } from "../db/index.ts";
import { ConfigError, UnavailableError, WheelhouseError } from "../errors/index.ts";
import { createEventStore, type EventStore, streamSettingsFromConfig } from "../eventstore/index.ts";
import { createEvidenceStore, type EvidenceStore } from "../evidence/index.ts";
import { createLogger, type Logger } from "../log/index.ts";
import { createScrubber } from "../redact/index.ts";
import { type Catalog, loadCatalog } from "../tools/index.ts";
import { createHealthChecks, type HealthChecks } from "./health.ts";
import { connectNats, refusedByNats } from "./nats.ts";
import { ensureReplication, replicationError } from "./replication.ts";

export { type ComponentHealth, createHealthChecks, type HealthChecks } from "./health.ts";
export { connectNats, LOCAL_NATS_AUTH_DIR, type NatsCredentials, natsCredentials, refusedByNats } from "./nats.ts";
export { type BucketSpec, ensureReplication, openBucket, replicationError } from "./replication.ts";

export interface Runtime {
  readonly config: Config;
  /** A logger for one component; every message goes through the secret scrubber. */
  logger(service: string): Logger;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  /** The read-model database, connected (and migrated) on first use. */
  db(): Promise<Db>;
  /** The evidence store of `storage.evidence`. */
  evidence(): EvidenceStore;
  /** The tool catalog, loaded and compiled once for every service in the process. */
  catalog(): Catalog;
  /** Health checks the services of this process register, reported by the gateway's /readyz. */
  readonly health: HealthChecks;
  close(): Promise<void>;
}

/** A running service: stopping it drains what it holds. */
export interface RunningService {
  /** Where it can be reached, for the start-up banner (e.g. `http://127.0.0.1:8320`). */
  readonly url?: string | undefined;
  stop(): Promise<void>;
}

export type ServiceStarter = (runtime: Runtime) => Promise<RunningService>;

export async function openRuntime(config: Config, name: string): Promise<Runtime> {
  const scrub = createScrubber(config.llm.redact_patterns);
  const logger = (service: string) =>
    createLogger({ service, level: config.log.level, format: config.log.format, scrub });
  const log = logger("runtime");
  const nc = await connectNats(config, name, log);
  const store = createEventStore({
    nc,
    prefix: config.nats.prefix,
    logger: logger("eventstore"),
    streams: streamSettingsFromConfig(config.nats),
    ackWaitMs: config.nats.ack_wait_ms,
  });
  const events = store.streams.events;
  try {
    await store.provision();
    await ensureReplication(await jetstreamManager(nc), config.nats.prefix, config.nats.replicas, log);
  } catch (cause) {
    await nc.close().catch(() => {});
    throw (
      refusedByNats(cause, "provisioning the streams") ??
      replicationError(cause, "provisioning the streams", events, config.nats.replicas) ??
      cause
    );
  }

  let db: Promise<Db> | null = null;
  let evidence: EvidenceStore | null = null;
  let catalog: Catalog | null = null;
  return {
    config,
    logger,
    nc,
    store,
    health: createHealthChecks(),
    db() {
      db ??= createDb({
        url: config.storage.postgres_url,
        schema: config.storage.postgres_schema,
        logger: logger("db"),
      }).catch((cause: unknown) => {
        db = null;
        throw new UnavailableError(`cannot open the database: ${(cause as Error).message}`, {
          cause,
          field: "storage.postgres_url",
          fix: "start PostgreSQL (`scripts/infra up` creates the database), or set WHEELHOUSE_STORAGE__POSTGRES_URL",
        });
      });
      return db;
    },
    evidence() {
      evidence ??= createEvidenceStore(config.storage.evidence);
      return evidence;
    },
    catalog() {
      catalog ??= loadCatalog();
      return catalog;
    },
    async close() {
      if (db) await (await db.catch(() => null))?.close();
      await nc.drain().catch((e: unknown) => log.warn({ err: e }, "NATS drain failed"));
    },
  };
}

/** How long stopping after a failed start may take: the failure is printed first, the exit follows within seconds. */
const STOP_AFTER_FAILED_START_MS = 10_000;

/**
 * How long a stopping process may drain before it exits anyway: `drain_timeout_ms`, else the tool
 * timeout plus 10 s, so that a write in flight (which the orchestrator lets finish) can.
 */
export function drainDeadlineMs(config: Config): number {
  return config.drain_timeout_ms ?? config.tools.default_timeout_ms + 10_000;
}

/**
 * Runs services in this process until SIGINT/SIGTERM, then stops them in
 * reverse order and closes the runtime; a stop that outlasts the drain deadline
 * ends the process anyway (exit 1). On a start-up failure, prints what failed
 * and how to fix it on one line, stops what had started, and exits 1.
 * A signal during start-up lets the service being started finish, then stops.
 */
export async function runServices(
  name: string,
  services: ReadonlyArray<readonly [string, ServiceStarter]>,
  options: { config?: Config; onStarted?: (running: ReadonlyArray<readonly [string, RunningService]>) => void } = {},
): Promise<void> {
  let config: Config;
  try {
    config = options.config ?? loadConfig();
  } catch (error) {
    exitWith(error);
  }
  const scrub = createScrubber(config.llm.redact_patterns);
  const log = createLogger({ service: name, level: config.log.level, format: config.log.format, scrub });
  const running: (readonly [string, RunningService])[] = [];
  let runtime: Runtime | null = null;
  /** The start-up step in progress (opening the runtime, or starting one service). */
  let inFlight: Promise<unknown> = Promise.resolve();
  /** What the stop is waiting on, for the message when it runs out of time. */
  let waitingOn = "start-up";
  let stopping: Promise<void> | null = null;
  const stopAll = (deadlineMs: number) => {
    stopping ??= (async () => {
      const deadline = setTimeout(() => {
        process.stderr.write(
          `wheelhouse: ${name} did not stop within ${Math.round(deadlineMs / 1000)} s (waiting on ${waitingOn}); exiting anyway\n`,
        );
        process.exit(1);
      }, deadlineMs);
      await inFlight.catch(() => {});
      for (const [service, handle] of [...running].reverse()) {
        waitingOn = service;
        try {
          await handle.stop();
          log.info({ component: service }, "stopped");
        } catch (error) {
          log.error({ err: error, component: service }, "did not stop cleanly");
        }
      }
      waitingOn = "the NATS and database connections";
      await runtime?.close().catch((error: unknown) => log.error({ err: error }, "connections did not close cleanly"));
      clearTimeout(deadline);
    })();
    return stopping;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      // A terminal's Ctrl-C can arrive twice (the process group, and scripts/start forwarding it).
      if (stopping === null) log.info({ signal, deadline_ms: drainDeadlineMs(config) }, "shutting down");
      void stopAll(drainDeadlineMs(config)).then(() => process.exit(0));
    });
  }
  let current = "runtime";
  try {
    const opening = openRuntime(config, name);
    inFlight = opening;
    runtime = await opening;
    for (const [service, start] of services) {
      if (stopping !== null) return;
      current = service;
      waitingOn = `${service} to start`;
      const starting = start(runtime);
      inFlight = starting;
      running.push([service, await starting]);
      log.debug({ component: service }, "started");
    }
  } catch (error) {
    if (stopping !== null) return; // a signal is already stopping the process; its failure is expected
    // Say what failed before stopping the rest, so that a stop that hangs cannot hide it.
    printStartupFailure(startupError(error, current, config), log);
    await stopAll(Math.min(STOP_AFTER_FAILED_START_MS, drainDeadlineMs(config)));
    process.exit(1);
  }
  if (stopping === null) options.onStarted?.(running);
}

/** The ports a process listens on, by the field that sets them, for "port in use" messages. */
function portFields(config: Config): [field: string, port: number][] {
  return [
    ["gateway.port", config.gateway.port],
    ["tools.router_port", config.tools.router_port],
    ["chatops.slack.port", config.chatops.slack.port],
  ];
}

/** A start-up failure the operator can act on: a port in use names the port, its field and the fix. */
export function startupError(error: unknown, service: string, config: Config): unknown {
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.code !== "EADDRINUSE" && e?.code !== "EACCES") return error;
  const port = e.port ?? Number(/:(\d+)$/.exec(e.message)?.[1]);
  const field = portFields(config).find(([, p]) => p === port)?.[0];
  const env = field ? `WHEELHOUSE_${field.toUpperCase().replaceAll(".", "__")}` : null;
  const where = `${e.address ?? "127.0.0.1"}:${port}`;
  const problem = e.code === "EADDRINUSE" ? "it is in use (another Wheelhouse running?)" : "permission denied";
  return new UnavailableError(`${service} cannot listen on ${where}${field ? ` (${field})` : ""}: ${problem}`, {
    cause: error,
    ...(field ? { field } : {}),
    fix:
      e.code === "EADDRINUSE"
        ? `stop the process holding port ${port} (\`ss -ltnp 'sport = :${port}'\` names it)${env ? `, or set ${env} to a free port` : ""}`
        : `use a port above 1023${env ? ` (set ${env})` : ""}`,
  });
}

/** One line for a known failure (its message and fix); the stack for an unexpected one. */
function printStartupFailure(error: unknown, log?: Logger): void {
  if (error instanceof WheelhouseError) {
    const fix = error.fix && !(error instanceof ConfigError) ? `; fix: ${error.fix}` : "";
    process.stderr.write(`wheelhouse: ${error.message}${fix}\n`);
  } else {
    log?.fatal({ err: error }, "start-up failed");
    process.stderr.write(`wheelhouse: start-up failed: ${(error as Error)?.stack ?? String(error)}\n`);
  }
}

function exitWith(error: unknown, log?: Logger): never {
  printStartupFailure(error, log);
  process.exit(1);
}

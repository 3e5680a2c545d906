/**
 * What every Wheelhouse process shares: validated configuration, a scrubbing
 * logger, one NATS connection with the provisioned event store, and the
 * database and evidence store opened on first use. A service is a function
 * `start(runtime) → { stop }`; `runServices` runs one (its own process) or
 * several (the embedded profile) with one runtime, handles signals, and turns
 * start-up failures into one clear message instead of a stack trace.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { type Config, loadConfig } from "../config/index.ts";
import { createDb, type Db } from "../db/index.ts";
import { ConfigError, UnavailableError, WheelhouseError } from "../errors/index.ts";
import { createEventStore, type EventStore, streamSettingsFromConfig } from "../eventstore/index.ts";
import { createEvidenceStore, type EvidenceStore } from "../evidence/index.ts";
import { createScrubber } from "../redact/index.ts";
import { createLogger, type Logger } from "../log/index.ts";
import { type Catalog, loadCatalog } from "../tools/index.ts";
import { connectNats } from "./nats.ts";

export { connectNats, LOCAL_NATS_AUTH_DIR, type NatsCredentials, natsCredentials } from "./nats.ts";

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
  });
  await store.provision();

  let db: Promise<Db> | null = null;
  let evidence: EvidenceStore | null = null;
  let catalog: Catalog | null = null;
  return {
    config,
    logger,
    nc,
    store,
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

/**
 * Runs services in this process until SIGINT/SIGTERM, then stops them in
 * reverse order and closes the runtime. On a start-up failure, prints what
 * failed and how to fix it, and exits 1.
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
  let stopping: Promise<void> | null = null;
  const stopAll = () => {
    stopping ??= (async () => {
      for (const [service, handle] of [...running].reverse()) {
        try {
          await handle.stop();
          log.info({ component: service }, "stopped");
        } catch (error) {
          log.error({ err: error, component: service }, "did not stop cleanly");
        }
      }
      await runtime?.close();
    })();
    return stopping;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      // A terminal's Ctrl-C can arrive twice (the process group, and scripts/start forwarding it).
      if (stopping === null) log.info({ signal }, "shutting down");
      void stopAll().then(() => process.exit(0));
    });
  }
  try {
    runtime = await openRuntime(config, name);
    for (const [service, start] of services) {
      running.push([service, await start(runtime)]);
      log.debug({ component: service }, "started");
    }
  } catch (error) {
    await stopAll().catch(() => {});
    exitWith(error, log);
  }
  options.onStarted?.(running);
}

function exitWith(error: unknown, log?: Logger): never {
  if (error instanceof WheelhouseError) {
    const fix = error.fix && !(error instanceof ConfigError) ? `\n  fix: ${error.fix}` : "";
    process.stderr.write(`wheelhouse: ${error.message}${fix}\n`);
  } else {
    log?.fatal({ err: error }, "start-up failed");
    process.stderr.write(`wheelhouse: start-up failed: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
}

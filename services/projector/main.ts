/**
 * Projector process: `node --import tsx services/projector/main.ts`
 * (or `... main.ts rebuild [projection...]` to rebuild read models and exit).
 * Configuration from `loadConfig` (`WHEELHOUSE_*`); SIGTERM/SIGINT finish the
 * batch in hand, commit it and exit.
 */
import { connect } from "@nats-io/transport-node";
import { loadConfig } from "../../lib/config/index.ts";
import { createDb } from "../../lib/db/index.ts";
import { toWheelhouseError } from "../../lib/errors/index.ts";
import { createEventStore, streamSettingsFromConfig } from "../../lib/eventstore/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { projections } from "../../projections/index.ts";
import { createProjector } from "./projector.ts";

const config = loadConfig();
const logger = createLogger({ service: "projector", level: config.log.level, format: config.log.format });

async function main() {
  const [command, ...args] = process.argv.slice(2);
  const nc = await connect({ servers: config.nats.url, name: "wheelhouse-projector" });
  const store = createEventStore({
    nc,
    prefix: config.nats.prefix,
    logger,
    streams: streamSettingsFromConfig(config.nats),
  });
  await store.provision();
  const db = await createDb({ url: config.storage.postgres_url, schema: config.storage.postgres_schema, logger });
  const projector = createProjector({ nc, store, db, projections, logger });

  const shutdown = async (code: number) => {
    await projector.stop();
    await db.close();
    await nc.drain();
    process.exit(code);
  };

  if (command === "rebuild") {
    await projector.rebuild(args.length > 0 ? args : undefined);
    logger.info({ lag: await projector.lag() }, "rebuild finished");
    await shutdown(0);
    return;
  }
  if (command !== undefined)
    throw new Error(`unknown command ${command}; use no argument or "rebuild [projection...]"`);

  let stopping = false;
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal: sig }, "draining");
      void shutdown(0);
    });
  }
  await projector.start();
  logger.info({ prefix: config.nats.prefix, schema: config.storage.postgres_schema }, "projector started");
  const timer = setInterval(() => {
    projector
      .lag()
      .then((lag) => logger.info({ lag }, "projector lag"))
      .catch((e: unknown) => logger.warn({ err: String(e) }, "lag unavailable"));
  }, 10_000);
  timer.unref();
}

main().catch((e: unknown) => {
  const err = toWheelhouseError(e);
  logger.fatal({ err, fix: err.fix }, `projector failed: ${err.message}`);
  process.exit(1);
});

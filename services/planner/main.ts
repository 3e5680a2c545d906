/**
 * Planner entry: reads configuration, connects to NATS and Postgres, builds
 * the LLM router (none configured: the template planner alone), and consumes
 * `plan.requested` / `signal.received` until SIGINT/SIGTERM. The only file
 * here that reads the environment.
 */
import { connect } from "@nats-io/transport-node";
import { loadConfig } from "../../lib/config/index.ts";
import { createDb } from "../../lib/db/index.ts";
import { createEventStore, streamSettingsFromConfig } from "../../lib/eventstore/index.ts";
import { createEvidenceStore } from "../../lib/evidence/index.ts";
import { createLLMRouter, createScrubber } from "../../lib/llm/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { createPlanner } from "../../lib/planner/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { createContextReader } from "./context.ts";
import { createPlannerService } from "./service.ts";

const config = loadConfig();
const logger = createLogger({
  service: "planner",
  level: config.log.level,
  format: config.log.format,
  scrub: createScrubber(config.llm.redact_patterns),
});

const catalog = loadCatalog();
const llm = createLLMRouter(config.llm, { env: process.env, logger });
logger.info(
  { providers: llm.providers },
  llm.enabled ? "LLM planning on, template planner as fallback" : "no LLM configured: template planner",
);

const nc = await connect({ servers: config.nats.url, name: "wheelhouse-planner" });
const store = createEventStore({
  nc,
  prefix: config.nats.prefix,
  logger,
  streams: streamSettingsFromConfig(config.nats),
});
await store.provision();
const db = await createDb({ url: config.storage.postgres_url, schema: config.storage.postgres_schema, logger });
const evidence = createEvidenceStore(config.storage.evidence);

const planner = createPlanner({
  catalog,
  llm,
  getContext: createContextReader(() => db.listContextServices()),
  redactPatterns: config.llm.redact_patterns,
  logger,
});
const service = createPlannerService({
  store,
  planner,
  storeEvidence: (meta, blob) => evidence.storeEvidence(meta, blob),
  redactPatterns: config.llm.redact_patterns,
  logger,
});
await service.start();
logger.info("planner consuming plan.requested and signal.received");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "planner stopping");
  await service.stop();
  await nc.drain();
  await db.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

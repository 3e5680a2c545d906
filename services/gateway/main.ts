/**
 * Gateway entry: reads configuration, connects to NATS and Postgres, and
 * serves the API until SIGINT/SIGTERM. The only file here that reads the
 * environment.
 */
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { createAuditQueries, readModelFolds, slonikSqlClient } from "../../lib/audit/index.ts";
import { createAuthenticator, loadDevIssuer } from "../../lib/auth/index.ts";
import { loadConfig, resolveSecret } from "../../lib/config/index.ts";
import { createDb } from "../../lib/db/index.ts";
import { createEventStore, streamSettingsFromConfig } from "../../lib/eventstore/index.ts";
import { createEvidenceStore } from "../../lib/evidence/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { createGateway } from "./gateway.ts";
import { createReadModels } from "./read-models.ts";

const config = loadConfig();
const logger = createLogger({ service: "gateway", level: config.log.level, format: config.log.format });

const nc = await connect({ servers: config.nats.url, name: "wheelhouse-gateway" });
const store = createEventStore({
  nc,
  prefix: config.nats.prefix,
  logger,
  streams: streamSettingsFromConfig(config.nats),
});
await store.provision();

const db = await createDb({ url: config.storage.postgres_url, schema: config.storage.postgres_schema, logger });
const sql = slonikSqlClient(db.pool);

const auth = config.gateway.auth;
const devIssuer = auth.mode === "dev" ? await loadDevIssuer(join(config.data_dir, "dev-issuer"), auth.issuer) : null;
if (devIssuer) logger.warn("dev issuer on (gateway.auth.mode: dev): tokens from scripts/mint-token.ts are accepted");
const webhooks = config.gateway.webhooks;

const gateway = await createGateway({
  config: config.gateway,
  nc,
  store,
  readModels: createReadModels({
    db,
    sql,
    audit: createAuditQueries({
      db: sql,
      eventStore: store,
      evidenceStore: createEvidenceStore(config.storage.evidence),
      folds: readModelFolds,
    }),
  }),
  authenticator: createAuthenticator({ config: auth, jwks: devIssuer?.jwks() }),
  devIssuer,
  webhookSecrets: {
    alertmanagerToken: resolveSecret(webhooks.alertmanager_token),
    argocdSecret: resolveSecret(webhooks.argocd_secret),
    githubSecret: resolveSecret(webhooks.github_secret),
    gitlabToken: resolveSecret(webhooks.gitlab_token),
  },
  logger,
  pingDatabase: async () => {
    await sql.query("SELECT 1");
  },
});

const url = await gateway.start();
logger.info({ url }, "gateway listening");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "gateway stopping");
  await gateway.stop();
  await nc.drain();
  await db.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

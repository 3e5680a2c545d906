/** Starts the gateway on a shared runtime: the HTTP, WebSocket and SSE edge. */
import { join } from "node:path";
import { createAuditQueries } from "../../lib/audit/index.ts";
import { createAuthenticator, loadDevIssuer } from "../../lib/auth/index.ts";
import { resolveSecret } from "../../lib/config/index.ts";
import { slonikSqlClient } from "../../lib/db/sql.ts";
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { readProjectionLag } from "../../projections/lag.ts";
import { createReadModelQueries } from "../../projections/queries.ts";
import { readModelFolds } from "../../projections/replay.ts";
import { createGateway } from "./gateway.ts";
import { createReadModels } from "./read-models.ts";

export async function startGateway(runtime: Runtime): Promise<RunningService> {
  const { config, store } = runtime;
  const logger = runtime.logger("gateway");
  const db = await runtime.db();
  const sql = slonikSqlClient(db.pool);
  const auth = config.gateway.auth;
  const devIssuer = auth.mode === "dev" ? await loadDevIssuer(join(config.data_dir, "dev-issuer"), auth.issuer) : null;
  if (devIssuer) logger.warn("dev issuer on (gateway.auth.mode: dev): tokens from scripts/mint-token.ts are accepted");
  const webhooks = config.gateway.webhooks;
  const gateway = await createGateway({
    config: config.gateway,
    nc: runtime.nc,
    natsReplicas: config.nats.replicas,
    store,
    readModels: createReadModels({ queries: createReadModelQueries(db.pool), sql, stream: store }),
    audit: createAuditQueries({
      db: sql,
      eventStore: store,
      evidenceStore: runtime.evidence(),
      folds: readModelFolds,
    }),
    redactPatterns: config.llm.redact_patterns,
    authenticator: createAuthenticator({ config: auth, jwks: devIssuer?.jwks() }),
    devIssuer,
    webhookSecrets: {
      alertmanagerToken: resolveSecret(webhooks.alertmanager_token),
      argocdSecret: resolveSecret(webhooks.argocd_secret),
      githubSecret: resolveSecret(webhooks.github_secret),
      gitlabToken: resolveSecret(webhooks.gitlab_token),
    },
    logger,
    // Read from the checkpoints, so it is right whether the projector runs here or elsewhere.
    projectorLag: () => readProjectionLag({ db, store }),
    pingDatabase: async () => {
      await sql.query("SELECT 1");
    },
    componentHealth: () => runtime.health.report(),
  });
  const url = await gateway.start();
  return { url, stop: () => gateway.stop() };
}

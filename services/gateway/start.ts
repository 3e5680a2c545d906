/** Starts the gateway on a shared runtime: the HTTP, WebSocket and SSE edge. */
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createAuditQueries } from "../../lib/audit/index.ts";
import { type Authenticator, createAuthenticator, loadDevIssuer, withDelegation } from "../../lib/auth/index.ts";
import { type Config, resolveSecret } from "../../lib/config/index.ts";
import { slonikSqlClient } from "../../lib/db/sql.ts";
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { loadVerifyKey } from "../../lib/tools/index.ts";
import { readProjectionLag } from "../../projections/lag.ts";
import { createReadModelQueries } from "../../projections/queries.ts";
import { readModelFolds } from "../../projections/replay.ts";
import { createGateway } from "./gateway.ts";
import { createReadModels } from "./read-models.ts";

/**
 * `delegationVerifyKey`: the public half of ChatOps's on-behalf-of key (the embedded profile's pair);
 * otherwise `chatops.delegation_verify_key`, and without either no service may act for a person.
 */
export async function startGateway(
  runtime: Runtime,
  options: { delegationVerifyKey?: KeyObject | undefined } = {},
): Promise<RunningService> {
  const { config, store } = runtime;
  const logger = runtime.logger("gateway");
  const db = await runtime.db();
  const sql = slonikSqlClient(db.pool);
  const auth = config.gateway.auth;
  const devIssuer =
    auth.mode === "dev"
      ? await loadDevIssuer(join(config.data_dir, "dev-issuer"), auth.issuer, {
          auth,
          accessTokenTtlSeconds: auth.dev_access_token_ttl_seconds,
        })
      : null;
  if (devIssuer) {
    logger.warn(
      { issuer: devIssuer.issuer },
      "dev issuer on (gateway.auth.mode: dev): anyone here can sign in as a demo identity, and tokens from npm run token are accepted",
    );
  }
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
    authenticator: delegatingAuthenticator(
      createAuthenticator({ config: auth, jwks: devIssuer?.jwks() }),
      runtime.config,
      options.delegationVerifyKey,
    ),
    devIssuer,
    consoleDir: fileURLToPath(new URL("../../console/dist", import.meta.url)),
    webhookSecrets: {
      alertmanagerToken: resolveSecret(webhooks.alertmanager_token),
      argocdSecret: resolveSecret(webhooks.argocd_secret),
      githubSecret: resolveSecret(webhooks.github_secret),
      gitlabToken: resolveSecret(webhooks.gitlab_token),
      linearSecret: resolveSecret(config.approvals.linear.webhook_secret),
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

/** The authenticator, also taking ChatOps's on-behalf-of tokens when the gateway holds their verify key. */
function delegatingAuthenticator(base: Authenticator, config: Config, key: KeyObject | undefined): Authenticator {
  const verifyKey = key ?? loadVerifyKey(config.chatops.delegation_verify_key, "chatops.delegation_verify_key");
  if (verifyKey === null) return base;
  return withDelegation(base, {
    service: "chatops",
    channel: "slack",
    audience: config.gateway.auth.audience,
    verifyKey,
    maxRoles: config.chatops.delegation_roles,
  });
}

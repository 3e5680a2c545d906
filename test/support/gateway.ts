/**
 * A real gateway for integration tests: real NATS (own stream
 * prefix and KV bucket), real Postgres (own schema, migrated), the real
 * projector, and a local OIDC issuer over HTTP. `stop()` removes everything
 * it created.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Actor, newEvent, type Role } from "../../events/index.ts";
import { type AuditQueries, createAuditQueries } from "../../lib/audit/index.ts";
import { type Authenticator, createAuthenticator, loadDevIssuer } from "../../lib/auth/index.ts";
import { type GatewayConfig, parseConfig } from "../../lib/config/index.ts";
import { createDb, type Db } from "../../lib/db/index.ts";
import { slonikSqlClient } from "../../lib/db/sql.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import { createEventStore, type EventStore } from "../../lib/eventstore/index.ts";
import { createEvidenceStore, type EvidenceStore } from "../../lib/evidence/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import type { ExecutionView } from "../../projections/executions/index.ts";
import { projections } from "../../projections/index.ts";
import type { PlanView } from "../../projections/plans/index.ts";
import { createReadModelQueries } from "../../projections/queries.ts";
import { readModelFolds } from "../../projections/replay.ts";
import type { WebhookSecrets } from "../../services/gateway/deps.ts";
import { createGateway, type Gateway } from "../../services/gateway/gateway.ts";
import { createReadModels } from "../../services/gateway/read-models.ts";
import { createProjector, type Projector } from "../../services/projector/projector.ts";
import { type OidcFixture, startOidcFixture } from "../fixtures/oidc/server.ts";
import { testEnv } from "./env.ts";
import { uniqueName } from "./names.ts";
import { connectTestNats, deleteStreams } from "./nats.ts";
import { freePort } from "./net.ts";
import { dropSchemas } from "./pg.ts";

export interface TestGateway {
  readonly url: string;
  readonly port: number;
  readonly prefix: string;
  readonly schema: string;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly db: Db;
  readonly idp: OidcFixture;
  readonly gateway: Gateway;
  readonly secrets: WebhookSecrets;
  readonly projector: Projector | null;
  /** Evidence store (local, in a temp dir of its own) the audit queries read. */
  readonly evidence: EvidenceStore;
  /** The lib/audit queries the gateway serves. */
  readonly audit: AuditQueries<PlanView, ExecutionView>;
  /** A bearer token from the test issuer whose groups map to `roles`. */
  token(sub: string, roles: readonly Role[]): Promise<string>;
  /** Events on the events stream (last sequence): to assert that nothing was appended. */
  eventCount(): Promise<number>;
  /** The digest of the plan's latest proposed revision (what an approval must name), read from the stream. */
  digestOf(planId: string): Promise<string>;
  stop(): Promise<void>;
}

export const TEST_SECRETS: WebhookSecrets = {
  alertmanagerToken: "am-test-token-1234567890",
  argocdSecret: "argocd-test-secret-0987654321",
  githubSecret: "github-test-secret-abcdef",
  gitlabToken: "gitlab-test-token-fedcba",
};

export async function startTestGateway(
  options: {
    gateway?: Record<string, unknown>;
    projector?: boolean;
    wsMaxBufferedBytes?: number;
    logLevel?: string;
    /** Where the gateway's log lines go (a test that reads them); nowhere by default. */
    logDestination?: NodeJS.WritableStream;
    /** `llm.redact_patterns` for intents. */
    redactPatterns?: readonly string[];
    /** Webhook secrets besides the test ones (the Linear signing secret). */
    webhookSecrets?: Partial<WebhookSecrets>;
    /** Wraps the test issuer's authenticator (e.g. to take a service's on-behalf-of tokens too). */
    authenticator?: (base: Authenticator) => Authenticator;
    /**
     * Sign-in through the development issuer (`auth.mode: dev`, mounted at `/dev-issuer` on a port
     * chosen up front, keys in a temp dir) instead of the test issuer; `token` then mints with it.
     */
    devIssuer?: boolean;
    /** The built console to serve at `/` (default: the placeholder page). */
    consoleDir?: string;
  } = {},
): Promise<TestGateway> {
  const prefix = uniqueName("gw");
  const schema = uniqueName("gw");
  const logger = createLogger({
    service: "gateway-test",
    level: options.logLevel ?? "silent",
    format: "json",
    destination: options.logDestination,
  });
  const nc = await connectTestNats();
  const store = createEventStore({ nc, prefix, logger });
  await store.provision();
  const db = await createDb({ url: testEnv.pgUrl, schema, logger });
  const sql = slonikSqlClient(db.pool);
  const idp = await startOidcFixture();
  const devPort = options.devIssuer ? await freePort() : 0;
  const devIssuerDir = options.devIssuer ? mkdtempSync(join(tmpdir(), "wh-gw-dev-issuer-")) : null;
  const gatewayConfig: GatewayConfig = parseConfig({
    gateway: {
      ...options.gateway,
      auth: devIssuerDir
        ? { mode: "dev", issuer: `http://127.0.0.1:${devPort}/dev-issuer` }
        : { issuer: idp.issuer, jwks_url: idp.jwksUrl, algorithms: ["RS256"] },
    },
  }).gateway;
  const devIssuer = devIssuerDir
    ? await loadDevIssuer(devIssuerDir, gatewayConfig.auth.issuer, { auth: gatewayConfig.auth })
    : null;
  const projector = options.projector === false ? null : createProjector({ nc, store, db, projections, logger });
  await projector?.start();
  const evidenceDir = mkdtempSync(join(tmpdir(), "wh-gw-evidence-"));
  const evidence = createEvidenceStore(
    parseConfig({ storage: { evidence: { kind: "local", path: evidenceDir } } }).storage.evidence,
  );
  const audit = createAuditQueries({ db: sql, eventStore: store, evidenceStore: evidence, folds: readModelFolds });
  const gateway = await createGateway({
    config: gatewayConfig,
    nc,
    store,
    readModels: createReadModels({ queries: createReadModelQueries(db.pool), sql, stream: store }),
    audit,
    redactPatterns: options.redactPatterns,
    projectorLag: projector ? () => projector.lag() : undefined,
    authenticator: (options.authenticator ?? ((a) => a))(
      createAuthenticator({ config: gatewayConfig.auth, jwks: devIssuer?.jwks() }),
    ),
    devIssuer,
    consoleDir: options.consoleDir,
    webhookSecrets: { ...TEST_SECRETS, ...options.webhookSecrets },
    logger,
    pingDatabase: async () => {
      await sql.query("SELECT 1");
    },
    idempotencyBucket: `${prefix}_idem`,
    wsMaxBufferedBytes: options.wsMaxBufferedBytes,
  });
  const url = await gateway.start({ host: "127.0.0.1", port: devPort });
  return {
    url,
    port: Number(new URL(url).port),
    prefix,
    schema,
    nc,
    store,
    db,
    idp,
    gateway,
    projector,
    evidence,
    audit,
    secrets: TEST_SECRETS,
    token: (sub, roles) =>
      devIssuer
        ? devIssuer.mint({
            sub,
            roles,
            audience: gatewayConfig.auth.audience,
            rolesClaim: gatewayConfig.auth.roles_claim,
            roleMap: gatewayConfig.auth.role_map,
          })
        : idp.sign({ sub, groups: roles.map((r) => `wheelhouse-${r}s`) }),
    eventCount: () => store.lastSeq(),
    async digestOf(planId) {
      const proposed = (await store.readAggregate("plan", planId)).findLast((e) => e.type === "plan.proposed");
      if (proposed?.type !== "plan.proposed") throw new Error(`plan ${planId} has no proposed revision`);
      return planRevisionDigest(proposed.payload.steps);
    },
    async stop() {
      await gateway.stop();
      await projector?.stop();
      await deleteStreams(nc, prefix);
      await nc.close();
      await db.close();
      await dropSchemas(schema);
      await idp.stop();
      rmSync(evidenceDir, { recursive: true, force: true });
      if (devIssuerDir) rmSync(devIssuerDir, { recursive: true, force: true });
    },
  };
}

const POLICY_ACTOR: Actor = { kind: "service", id: "policy", roles: [] };

/**
 * Planner and policy, played by appending their events (`plan.proposed` with no steps, then a T2
 * `policy.decided`), for gateway tests whose subject is what comes after them.
 */
export async function proposeAndDecide(
  store: EventStore,
  planId: string,
  decision: "allow" | "require_approval" | "deny",
  opts: { approvers?: number; selfApproval?: boolean; correlationId?: string } = {},
): Promise<void> {
  const meta = { actor: POLICY_ACTOR, correlation_id: opts.correlationId ?? "test" };
  await store.append([
    newEvent(
      "plan.proposed",
      planId,
      { plan_id: planId, revision: 1, summary: "scale", steps: [], planner: { kind: "template" } },
      meta,
    ),
    newEvent(
      "policy.decided",
      planId,
      {
        plan_id: planId,
        revision: 1,
        decision,
        tier: "T2",
        reasons: ["test"],
        approvers_required: opts.approvers ?? (decision === "require_approval" ? 1 : 0),
        constraints: opts.selfApproval ? { self_approval: true } : {},
        ttl_seconds: 3600,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        policy_revision: "test",
        steps: [],
      },
      meta,
    ),
  ]);
}

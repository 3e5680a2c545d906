/**
 * `createGateway(deps)`: the gateway assembled from its dependencies, ready
 * to `start` and `stop`. Tests build it with real NATS and Postgres and their
 * own stream prefix and schema; `main.ts` builds it from configuration.
 */

import { createScrubber } from "../../lib/redact/index.ts";
import { buildOpenApi, ClientMessageSchema, ServerMessageSchema } from "../../schemas/api/index.ts";
import type { Route } from "./api.ts";
import { createAuditHandlers } from "./audit.ts";
import { cancelExecution } from "./cancel.ts";
import { createCommandHandlers } from "./commands.ts";
import type { GatewayDeps } from "./deps.ts";
import { createHttpTransport, type HttpTransport } from "./http.ts";
import { consoleAuthConfig } from "./http-console.ts";
import { createIdempotencyStore } from "./idempotency.ts";
import { createLiveHub, followOutput } from "./live.ts";
import { createMetrics } from "./metrics.ts";
import { createQueryHandlers } from "./queries.ts";
import { createFailureLimiter, createSharedRateLimiter } from "./rate-limit.ts";
import { buildRoutes } from "./routes.ts";
import { giveVerdict } from "./verdict.ts";
import { createLinearWebhook } from "./webhooks/linear.ts";
import { createWebhookHandlers } from "./webhooks.ts";

export interface Gateway {
  /** Listens; resolves to the base URL. */
  start(options?: { host?: string; port?: number }): Promise<string>;
  stop(): Promise<void>;
  readonly routes: readonly Route[];
  readonly transport: HttpTransport;
}

/**
 * The OpenAPI document `/v1/openapi.json` serves for these routes. Needs no running gateway: the
 * console's API types are generated from it (console/codegen).
 */
export function openApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  return buildOpenApi(routes, {
    version,
    components: { WsClientMessage: ClientMessageSchema, WsServerMessage: ServerMessageSchema },
  });
}

export async function createGateway(deps: GatewayDeps): Promise<Gateway> {
  const now = deps.now ?? (() => new Date());
  const metrics = createMetrics(deps.metricsRegistry, {
    projectorLag: deps.projectorLag,
    onLagError: (error) => deps.logger.warn({ err: error }, "reading the projector lag failed"),
  });
  const idempotency = await createIdempotencyStore(
    deps.nc,
    deps.idempotencyBucket ?? `${deps.store.prefix}_idempotency`,
    deps.idempotencyTtlMs ?? 24 * 60 * 60 * 1000,
    undefined,
    deps.natsReplicas,
  );
  const rateLimiter = await createSharedRateLimiter({
    nc: deps.nc,
    bucket: `${deps.store.prefix}_rate_limit`,
    replicas: deps.natsReplicas ?? 1,
    perMinute: deps.config.rate_limit_per_minute,
    logger: deps.logger,
  });

  async function waitForProjection(
    seq: number,
    target: { kind: "plan" | "execution" | "signal"; id: string },
    timeoutMs: number,
  ): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let delay = 5;
    for (;;) {
      if (await deps.readModels.caughtUp(seq, target)) return true;
      if (Date.now() + delay > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 50);
    }
  }

  const commandDeps = {
    store: deps.store,
    now,
    waitForProjection,
    maxWaitMs: deps.config.max_wait_ms,
    scrub: createScrubber(deps.redactPatterns ?? []),
  };
  const commands = createCommandHandlers(commandDeps);
  const queries = createQueryHandlers(deps.readModels);
  const audit = createAuditHandlers(deps.audit);
  const webhooks = createWebhookHandlers({
    store: deps.store,
    secrets: deps.webhookSecrets,
    now,
    onSignal: (source, duplicate) => metrics.signals.inc({ source, duplicate: String(duplicate) }),
    redactPatterns: deps.redactPatterns,
  });

  const routes = buildRoutes({
    createPlan: idempotency.wrap("create-plan", commands.createPlan),
    executePlan: idempotency.wrap("execute-plan", commands.executePlan),
    cancelExecution: idempotency.wrap("cancel-execution", (request) => cancelExecution(commandDeps, request)),
    giveVerdict: idempotency.wrap("give-verdict", (request) => giveVerdict(commandDeps, request)),
    decideApproval: idempotency.wrap("decide-approval", commands.decideApproval),
    getPlan: queries.getPlan,
    listPlans: queries.listPlans,
    getExecution: queries.getExecution,
    listExecutions: queries.listExecutions,
    getExecutionMeasurements: queries.getExecutionMeasurements,
    getMe: queries.getMe,
    listAuditEvents: audit.listAuditEvents,
    exportAuditEvents: audit.exportAuditEvents,
    verifyAudit: audit.verifyAudit,
    planAsOf: audit.planAsOf,
    executionAsOf: audit.executionAsOf,
    explainPlan: audit.explainPlan,
    explainExecution: audit.explainExecution,
    listServices: queries.listServices,
    getService: queries.getService,
    alertmanager: webhooks.alertmanager,
    argocd: webhooks.argocd,
    git: webhooks.git,
    linear: createLinearWebhook({
      secret: deps.webhookSecrets.linearSecret ?? null,
      nc: deps.nc,
      prefix: deps.store.prefix,
      now,
    }),
  });

  let openapi: unknown = null;
  const hub = createLiveHub({
    store: deps.store,
    logger: deps.logger,
    maxBufferedBytes: deps.wsMaxBufferedBytes ?? 1024 * 1024,
    onDropped: () => metrics.wsDropped.inc(),
  });

  const dev = deps.config.auth.mode === "dev" ? deps.devIssuer : null;
  const transport = createHttpTransport({
    routes,
    authenticator: deps.authenticator,
    rateLimiter,
    authFailures: createFailureLimiter(deps.config.auth_failures_per_minute),
    logger: deps.logger,
    metrics,
    bodyLimitBytes: deps.config.body_limit_bytes,
    hub,
    openapi: () => {
      openapi ??= openApiDocument(routes, deps.version ?? "0.1.0");
      return openapi;
    },
    health: async () => {
      const checks: Record<string, string> = {};
      try {
        await deps.nc.flush();
        if (deps.nc.isClosed()) throw new Error("closed");
        checks.nats = "ok";
      } catch (e) {
        checks.nats = `unreachable: ${(e as Error).message}`;
      }
      try {
        await deps.pingDatabase();
        checks.postgres = "ok";
      } catch (e) {
        checks.postgres = `unreachable: ${(e as Error).message}`;
      }
      const components = (await deps.componentHealth?.()) ?? {};
      for (const [name, c] of Object.entries(components)) checks[name] = c.summary;
      return {
        ok: Object.entries(checks).every(([name, c]) => c === "ok" || components[name]?.critical === false),
        checks,
      };
    },
    followOutput: (executionId, fromSeq, onChunk) =>
      followOutput({
        nc: deps.nc,
        stream: deps.store.streams.output,
        subject: `${deps.store.prefix}.out.execution.${executionId}`,
        fromSeq,
        onChunk,
      }),
    console: { assetsDir: deps.consoleDir ?? null, auth: consoleAuthConfig(deps.config.auth), issuer: dev },
  });

  return {
    routes,
    transport,
    start: (options = {}) =>
      transport.start({ host: options.host ?? deps.config.host, port: options.port ?? deps.config.port }),
    stop: async () => {
      await transport.stop();
      await rateLimiter.stop();
    },
  };
}

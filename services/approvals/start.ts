/** Starts the approvals service on a shared runtime (its own process, or the embedded one). */
import { type ApprovalTimers, createApprovalTimers } from "../../lib/approvals/index.ts";
import { type Config, requireSecret } from "../../lib/config/index.ts";
import { ConfigError } from "../../lib/errors/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { connectTemporal, type TemporalConnections } from "../../lib/temporal/connect.ts";
import { createReadModelQueries, type ReadModelQueries } from "../../projections/queries.ts";
import { createLinearApprovals, type LinearApprovals } from "./linear.ts";
import { createApprovalsService } from "./service.ts";

export async function startApprovals(runtime: Runtime): Promise<RunningService> {
  const { config } = runtime;
  const logger = runtime.logger("approvals");
  const linear = linearFromConfig(config, logger);
  if (linear) {
    // Linear being away must not stop Wheelhouse: the look-up is retried on first use.
    await linear.setup().catch((error: unknown) => logger.warn({ err: error }, "Linear is not reachable yet"));
  }
  const queries = createReadModelQueries((await runtime.db()).pool);
  const service = createApprovalsService({
    store: runtime.store,
    logger,
    linear,
    identities: config.approvals.identities,
    rules: { grant: config.approvals.linear.grant, deny: config.approvals.linear.deny },
    planUrl: config.approvals.plan_url,
    readEvidence: (ref) => runtime.evidence().readEvidence(ref),
    pendingPlans: () => pendingPlans(queries),
    pollIntervalMs: config.approvals.linear.poll_interval_ms,
  });
  await service.start({ nc: runtime.nc });
  // Pending approvals expire at their TTL by a durable Temporal timer per revision, armed from the
  // `approval.requested` this service records (so timers need no links and open nothing themselves).
  let temporal: TemporalConnections | null = null;
  let timers: ApprovalTimers | null = null;
  try {
    temporal = await connectTemporal(config.orchestrator);
    timers = createApprovalTimers({
      store: runtime.store,
      temporal: { connection: temporal.workerConnection, client: temporal.client },
      namespace: config.orchestrator.namespace,
      taskQueue: `${config.orchestrator.task_queue}-approvals`,
      logger,
    });
    await timers.start();
  } catch (error) {
    await timers?.stop();
    await temporal?.close();
    await service.stop();
    throw error;
  }
  logger.info(
    {
      linear: linear ? config.approvals.linear.team_key : "off",
      identities: Object.keys(config.approvals.identities).length,
    },
    "opening approvals for plans that need them",
  );
  return {
    async stop() {
      await service.stop();
      await timers?.stop();
      await temporal?.close();
    },
  };
}

/** The Linear side when `approvals.linear` is configured (enabled, or a team key set); null otherwise. */
function linearFromConfig(config: Config, logger: Logger): LinearApprovals | null {
  const section = config.approvals.linear;
  if (!section.enabled && section.team_key === undefined) return null;
  if (!section.team_key) {
    throw new ConfigError("approvals.linear is enabled without a team", [
      {
        field: "approvals.linear.team_key",
        message: "is required when approvals.linear.enabled is true",
        fix: "set approvals.linear.team_key to the key of the team approval issues go to (e.g. OPS)",
      },
    ]);
  }
  return createLinearApprovals(
    {
      apiUrl: section.api_url,
      apiKey: requireSecret(section.api_key, "approvals.linear.api_key"),
      teamKey: section.team_key,
      labels: section.labels,
    },
    logger,
  );
}

async function pendingPlans(queries: ReadModelQueries): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await queries.listPlans({ status: "pending_approval", limit: 200, cursor });
    ids.push(...page.items.map((p) => p.plan_id));
    cursor = page.next_cursor;
  } while (cursor !== null && ids.length < 10_000);
  return ids;
}

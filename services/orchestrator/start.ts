/**
 * Starts the orchestrator on a shared runtime: a durable consumer of
 * `execution.requested` that starts one workflow per execution (its type chosen from the plan),
 * one relaying a person's requests to the workflow's signals (`execution.cancel_requested` to `cancel`,
 * `execution.verdict_requested` to `verdict`, relay.ts), one starting the
 * executions policy allows without a person (stage 2, auto-start.ts),
 * and the Temporal worker that runs those workflows, calling the tool router
 * over its HTTP RPC.
 */
import type { KeyObject } from "node:crypto";
import { Client } from "@temporalio/client";
import { resolveSecret } from "../../lib/config/index.ts";
import { describeIntegrations, integrationsFromConfig } from "../../lib/integrations/index.ts";
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { connectTemporal } from "../../lib/temporal/connect.ts";
import { createCapabilityMinter, requireSigningKey } from "../../lib/tools/index.ts";
import { type ActivityDeps, createActivities, notifies } from "./activities.ts";
import { createAutoStarter } from "./auto-start.ts";
import { createRequestRelay } from "./relay.ts";
import { createExecutionStarter } from "./starter.ts";
import { createToolClient } from "./tool-client.ts";
import { routeTemporalLogs, startExecutionWorker } from "./worker.ts";

export interface OrchestratorStartOptions {
  /**
   * The key tool-call capabilities are signed with, when the caller holds it (the embedded profile hands
   * in its pair's private half); otherwise `orchestrator.capability_signing_key`, required then.
   */
  readonly signingKey?: KeyObject | undefined;
}

export async function startOrchestrator(
  runtime: Runtime,
  options: OrchestratorStartOptions = {},
): Promise<RunningService> {
  const { config } = runtime;
  const settings = config.orchestrator;
  const logger = runtime.logger("orchestrator");
  const capabilities = createCapabilityMinter({ signingKey: options.signingKey ?? requireSigningKey(config) });
  routeTemporalLogs(logger);
  // Grafana, PagerDuty, Linear and GitHub from their sections; a secret a configured one names must be there.
  const integrations = integrationsFromConfig(config);
  const temporal = await connectTemporal(settings);
  const { workerConnection, client } = temporal;

  const activityDeps: ActivityDeps = {
    store: runtime.store,
    tools: createToolClient({ url: settings.tool_router_url, token: resolveSecret(config.tools.router_token) }),
    catalog: runtime.catalog(),
    logger,
    capabilities,
    toolTimeoutMs: config.tools.default_timeout_ms,
    // Verification's queries: each measurement's answer is evidence; an unset URL answers "not configured".
    measuring: {
      evidence: runtime.evidence(),
      prometheusUrl: config.connectors.prometheus.url,
      tempoUrl: config.connectors.tempo.url,
    },
    integrations: {
      clients: integrations,
      planUrl: (planId) => config.approvals.plan_url.replace("{plan_id}", encodeURIComponent(planId)),
    },
  };
  const activities = createActivities(activityDeps);
  const worker = await startExecutionWorker({
    connection: workerConnection,
    namespace: settings.namespace,
    taskQueue: settings.task_queue,
    logger,
    // A write in flight when the process is asked to stop is let finish (up to the tool timeout):
    // cancelling it would kill the CLI half-way and turn an approved change into a rollback.
    shutdownGraceMs: config.tools.default_timeout_ms + 5_000,
    activities,
  });
  const starter = createExecutionStarter({
    store: runtime.store,
    // On the worker's own connection, so the server can hand a new run's first task straight to this worker.
    client: new Client({ connection: workerConnection, namespace: settings.namespace }),
    eagerStart: true,
    taskQueue: settings.task_queue,
    logger,
    verificationTimeoutMs: settings.verification_timeout_ms,
    toolTimeoutMs: config.tools.default_timeout_ms,
    integrations: notifies(activityDeps),
  });
  await starter.start();
  // Next to the starter: cancels and verdicts become the workflow's signals; stage 2's allowed writes start by themselves.
  const requests = createRequestRelay({ store: runtime.store, client, logger });
  await requests.start();
  const autoStarter = createAutoStarter({ store: runtime.store, logger });
  await autoStarter.start();
  logger.info(
    {
      temporal: settings.temporal_address,
      namespace: settings.namespace,
      task_queue: settings.task_queue,
      integrations: describeIntegrations(integrations),
    },
    "running executions",
  );
  return {
    async stop() {
      await autoStarter.stop();
      await requests.stop();
      await starter.stop();
      await worker.stop();
      await temporal.close();
    },
  };
}

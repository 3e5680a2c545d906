/** Starts the planner on a shared runtime (its own process, or the embedded one). */
import { createLLMRouter } from "../../lib/llm/index.ts";
import { createPlanner, type ErrorRatioOptions } from "../../lib/planner/index.ts";
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { listContextServices } from "../../projections/context/queries.ts";
import { createContextReader } from "./context.ts";
import { createPlannerService } from "./service.ts";

export async function startPlanner(runtime: Runtime): Promise<RunningService> {
  const { config } = runtime;
  const logger = runtime.logger("planner");
  const llm = createLLMRouter(config.llm, { env: process.env, logger });
  logger.info(
    { providers: llm.providers },
    llm.enabled ? "LLM planning on, template planner as fallback" : "no LLM configured: template planner",
  );
  const db = await runtime.db();
  const evidence = runtime.evidence();
  const planner = createPlanner({
    catalog: runtime.catalog(),
    llm,
    getContext: createContextReader(() => listContextServices(db.pool)),
    redactPatterns: config.llm.redact_patterns,
    // With Prometheus to measure it, template plans also judge a change by the service's error ratio.
    template: config.connectors.prometheus.url ? { errorRatio: errorRatioOptions(config) } : {},
    logger,
  });
  const service = createPlannerService({
    store: runtime.store,
    planner,
    storeEvidence: (meta, blob) => evidence.storeEvidence(meta, blob),
    redactPatterns: config.llm.redact_patterns,
    logger,
  });
  await service.start();
  return { stop: () => service.stop() };
}

function errorRatioOptions(config: Runtime["config"]): ErrorRatioOptions {
  const r = config.connectors.prometheus.error_ratio;
  return {
    metric: r.metric,
    max: r.max,
    rateWindow: r.rate_window,
    initialDelaySeconds: r.initial_delay_seconds,
    intervalSeconds: r.interval_seconds,
    count: r.count,
    onInconclusive: r.on_inconclusive,
  };
}

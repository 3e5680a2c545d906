/** Starts the policy service on a shared runtime (its own process, or the embedded one). */
import { readFileSync } from "node:fs";
import type { PlanContextRef, PlanStep } from "../../events/index.ts";
import { ConfigError } from "../../lib/errors/index.ts";
import { snapshotOf } from "../../lib/planner/index.ts";
import { changeWindowIssues, createPolicyService } from "../../lib/policy/index.ts";
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { createReadModelQueries, type ReadModelQueries } from "../../projections/queries.ts";
import { createPolicyDecider, type StepContext } from "./service.ts";

export async function startPolicy(runtime: Runtime): Promise<RunningService> {
  const { config } = runtime;
  const logger = runtime.logger("policy");
  const policy = await createPolicyService({
    bundlePath: config.policy.bundle_path,
    data: readPolicyData(config.policy.data_path),
    stage: config.policy.stage,
    timeoutMs: config.policy.eval_timeout_ms,
    watch: config.policy.watch,
    logger,
  });
  if (policy.revision === null) {
    logger.warn(
      { bundle: config.policy.bundle_path },
      "no policy bundle loaded: every step is denied until one appears (run scripts/setup to build it)",
    );
  }
  const db = await runtime.db();
  const decider = createPolicyDecider({
    store: runtime.store,
    policy,
    catalog: runtime.catalog(),
    logger,
    stage: config.policy.stage,
    lookupContext: lookupInServiceGraph(createReadModelQueries(db.pool)),
  });
  await decider.start();
  logger.info({ revision: policy.revision, stage: config.policy.stage ?? "from data" }, "deciding proposed plans");
  return {
    async stop() {
      await decider.stop();
      await policy.close();
    },
  };
}

/** Reads and checks `policy.data_path` at start-up: a document the policy could not use stops the process. */
export function readPolicyData(path: string | undefined): Record<string, unknown> | undefined {
  if (path === undefined) return undefined;
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError(
      `policy.data_path ${path} is not a readable JSON document: ${(cause as Error).message}`,
      [
        {
          field: "policy.data_path",
          message: "not readable JSON",
          fix: "point it at a JSON file like policies/data.json",
        },
      ],
      { cause },
    );
  }
  const issues = changeWindowIssues(data).map((issue) => ({ ...issue, field: `policy.data_path: ${issue.field}` }));
  if (issues.length > 0) {
    const lines = issues.map((i) => `  - ${i.field}: ${i.message}. Fix: ${i.fix}`);
    throw new ConfigError(
      `policy.data_path ${path} has change windows the policy cannot use:\n${lines.join("\n")}`,
      issues,
      {
        field: issues[0]?.field,
        fix: issues[0]?.fix,
      },
    );
  }
  return data;
}

/**
 * Live facts about a step's target from the service graph the context service maintains, read once
 * per plan: the service's replica count, its autoscaler's bounds, and how many services depend on
 * it (its blast radius). Given the snapshot the plan was made from, the same scope of the graph is
 * digested again: a different digest means the world changed since planning, which the decision
 * names (it is taken on the live state).
 */
export function lookupInServiceGraph(
  readModels: Pick<ReadModelQueries, "listContextServices">,
): (steps: readonly PlanStep[], madeFrom?: PlanContextRef) => Promise<StepContext[]> {
  return async (steps, madeFrom) => {
    if (!madeFrom && !steps.some((step) => step.target.service !== undefined)) return steps.map(() => ({}));
    const services = await readModels.listContextServices();
    const live = madeFrom ? snapshotOf(services, madeFrom.scope) : null;
    const graphChanged =
      madeFrom && live && live.digest !== madeFrom.digest
        ? `the service graph changed since the plan was made (snapshot ${madeFrom.digest.slice(0, 12)}, now ${live.digest.slice(0, 12)}): decided on the live state`
        : undefined;
    return steps.map((step) => {
      const name = step.target.service;
      const node =
        name === undefined
          ? undefined
          : services.find(
              (s) =>
                s.name === name &&
                (s.environment ?? step.target.environment) === step.target.environment &&
                // A name may run in several namespaces of an environment: the step's own.
                (step.target.namespace === undefined ||
                  s.attributes.namespace === undefined ||
                  s.attributes.namespace === step.target.namespace),
            );
      if (!node) return graphChanged ? { graph_changed: graphChanged } : {};
      const replicas = node.attributes.replicas;
      const hpa = node.attributes.hpa as { name?: unknown; min_replicas?: unknown; max_replicas?: unknown } | undefined;
      const dependents = services.filter((s) => s.edges.some((e) => e.kind === "depends_on" && e.to === node.node_id));
      return {
        current_replicas: typeof replicas === "number" ? replicas : null,
        blast_radius: 1 + dependents.length,
        hpa:
          typeof hpa?.min_replicas === "number" && typeof hpa.max_replicas === "number"
            ? {
                ...(typeof hpa.name === "string" ? { name: hpa.name } : {}),
                min_replicas: hpa.min_replicas,
                max_replicas: hpa.max_replicas,
              }
            : null,
        ...(graphChanged ? { graph_changed: graphChanged } : {}),
      };
    });
  };
}

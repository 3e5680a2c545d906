/**
 * The template planner: deterministic plans for the common intents (read by
 * intent.ts from plain words or alert labels). It is the planner when no LLM
 * is configured (the quick start needs no API key) and the fallback when the
 * provider is down.
 */
import type { PlanStep } from "../../events/plan.ts";
import { ValidationError } from "../errors/index.ts";
import { describeState, hpaBoundsProblem, hpaNote } from "./facts.ts";
import { canonicalEnvironment, type TemplateIntent } from "./intent.ts";
import { investigate } from "./investigate.ts";
import type { PlanningContext, ServiceContext } from "./types.ts";

/**
 * Finds the service in the context, for its namespace, release, app and current state; in
 * `namespace` when the intent names one. A name that runs in several namespaces of the
 * environment is refused rather than guessed.
 */
export function findService(
  context: PlanningContext | null | undefined,
  service: string,
  environment: string,
  namespace?: string | undefined,
): ServiceContext | undefined {
  const found =
    context?.services?.filter(
      (s) =>
        s.name === service &&
        canonicalEnvironment(s.environment) === environment &&
        (namespace === undefined || s.namespace === namespace),
    ) ?? [];
  if (found.length > 1) {
    const namespaces = found.map((s) => s.namespace ?? "?").join(", ");
    throw new TemplateError(
      `${service} runs in ${found.length} namespaces of ${environment} (${namespaces}): name one, e.g. "... in ${environment} namespace ${found[0]?.namespace ?? "<namespace>"}"`,
    );
  }
  return found[0];
}

/**
 * How a plan judges a change by its service's error ratio (`connectors.prometheus.error_ratio`):
 * the failed share of `metric{namespace, service}` requests over `rateWindow`, below `max`.
 */
export interface ErrorRatioOptions {
  readonly metric: string;
  readonly max: number;
  readonly rateWindow: string;
  readonly initialDelaySeconds: number;
  readonly intervalSeconds: number;
  readonly count: number;
  readonly onInconclusive: "fail" | "pause";
}

export interface TemplateOptions {
  /** Namespace when neither the request nor the context names one; the environment name by default. */
  readonly defaultNamespace?: ((service: string, environment: string) => string) | undefined;
  /** Where a rotated secret's new value comes from (a `data_refs` reference). */
  readonly rotationRef?: ((service: string, environment: string, field: string) => string) | undefined;
  /**
   * Releases, deploys and rollbacks are also verified by the service's error ratio in Prometheus;
   * unset (no Prometheus configured): by their read alone.
   */
  readonly errorRatio?: ErrorRatioOptions | undefined;
}

/** The PromQL of a service's failed share of requests; label values are quoted as PromQL strings. */
export function errorRatioQuery(
  o: Pick<ErrorRatioOptions, "metric" | "rateWindow">,
  namespace: string,
  service: string,
) {
  const sel = `namespace=${JSON.stringify(namespace)},service=${JSON.stringify(service)}`;
  const rate = (extra: string) => `sum(rate(${o.metric}{${sel}${extra}}[${o.rateWindow}]))`;
  return `${rate(`,code=~"5.."`)} / ${rate("")}`;
}

/** Builds the steps (and a one-line summary) for an intent. Deterministic. */
export function buildTemplatePlan(
  intent: TemplateIntent,
  context: PlanningContext | null | undefined,
  options: TemplateOptions = {},
): { summary: string; steps: PlanStep[] } {
  const svc = findService(context, intent.service, intent.environment, intent.namespace);
  const namespace =
    intent.namespace ??
    svc?.namespace ??
    (options.defaultNamespace ?? ((_s, e) => e))(intent.service, intent.environment);
  const kind = svc?.kind ?? "deployment";
  const workload = svc?.workload ?? intent.service;
  const target = {
    environment: intent.environment,
    service: intent.service,
    namespace,
    ...(svc?.cluster ? { cluster: svc.cluster } : {}),
    ...(svc?.account ? { account: svc.account } : {}),
  };
  const assumed = intent.namespace || svc?.namespace ? "" : ` (namespace "${namespace}" assumed: no context names one)`;
  const release = svc?.helm?.release ?? intent.service;
  // What the graph says of the target now; the plan records the snapshot it comes from.
  const state = describeState(svc);
  const now = state ? ` (now: ${state})` : "";
  const rolloutStatus = (description: string) => ({
    description,
    action_id: "kubectl.rollout_status",
    input: { kind, name: workload, namespace, timeout_seconds: 300 },
  });
  // After the read, the service's error ratio, when Prometheus is there to measure it.
  const ratio = options.errorRatio;
  const withErrorRatio = (v: { description: string; action_id: string; input: Record<string, unknown> }) =>
    ratio
      ? {
          ...v,
          description: `${v.description}; ${intent.service}'s error ratio stays below ${Math.round(ratio.max * 1000) / 10}%`,
          analysis: {
            provider: "prometheus" as const,
            query: errorRatioQuery(ratio, namespace, intent.service),
            success_condition: `result < ${ratio.max}`,
            initial_delay_seconds: ratio.initialDelaySeconds,
            interval_seconds: ratio.intervalSeconds,
            count: ratio.count,
            failure_limit: 0,
            // One empty window (no traffic yet right after the change) is tolerated, not more.
            inconclusive_limit: Math.min(1, ratio.count - 1),
            on_inconclusive: ratio.onInconclusive,
          },
        }
      : v;
  const step = (n: number, s: Omit<PlanStep, "step_id" | "target">): PlanStep => ({ step_id: `s${n}`, target, ...s });

  switch (intent.kind) {
    case "scale": {
      const current = svc?.replicas;
      const outOfBounds = hpaBoundsProblem(svc, intent.replicas);
      if (outOfBounds) throw new TemplateError(outOfBounds);
      return {
        summary: `Scale ${kind} ${workload} in ${namespace} (${intent.environment}) to ${intent.replicas} replicas${current === undefined ? "" : ` from ${current}`}.`,
        steps: [
          step(1, {
            action_id: "kubectl.get",
            input: { kind, name: workload, namespace, output: "json" },
            rationale: `Record the current replica count of ${workload} before changing it${assumed}${now}.`,
          }),
          step(2, {
            action_id: "kubectl.scale",
            input: {
              kind,
              name: workload,
              namespace,
              replicas: intent.replicas,
              ...(current === undefined ? {} : { current_replicas: current }),
            },
            rationale: `The operator asked for ${intent.replicas} replicas of ${intent.service} in ${intent.environment}.`,
            expected_effect: `${workload} runs ${intent.replicas} ready replicas${current === undefined ? "" : ` (was ${current})`}${hpaNote(svc)}.`,
            // The expected effect, compared: the live object's ready replicas equal the step's input.
            verification: {
              description: `${workload} reports ${intent.replicas} ready replicas`,
              action_id: "kubectl.get",
              input: { kind, name: workload, namespace, output: "json" },
              analysis: {
                provider: "kubectl",
                query: ".status.readyReplicas ?? 0",
                success_condition: "result == input.replicas",
                interval_seconds: 5,
                count: 60,
                // Measured until it holds, for up to 5 minutes: replicas take a while to become ready.
                failure_limit: 59,
                inconclusive_limit: 59,
              },
            },
            rollback:
              current === undefined
                ? null
                : {
                    action_id: "kubectl.scale",
                    input: { kind, name: workload, namespace, replicas: current, current_replicas: intent.replicas },
                  },
          }),
        ],
      };
    }
    case "restart":
      return {
        summary: `Rolling restart of ${kind} ${workload} in ${namespace} (${intent.environment}).`,
        steps: [
          step(1, {
            action_id: "kubectl.rollout_restart",
            input: { kind, name: workload, namespace },
            rationale: `The operator asked to restart ${intent.service} in ${intent.environment}${assumed}${now}.`,
            expected_effect: `Pods of ${workload} are replaced one by one; the spec does not change.`,
            verification: rolloutStatus(`the restart of ${workload} completes with every replica ready`),
            rollback: null,
          }),
        ],
      };
    case "deploy": {
      const app = svc?.argocd?.app ?? `${intent.service}-${intent.environment}`;
      if (intent.via === "pr") {
        const repo = intent.repo ?? svc?.gitops?.repo;
        if (!repo) {
          throw new TemplateError(
            `deploying ${intent.service} through a pull request needs the GitOps repository: say "via PR in <owner>/<repo>" or record it in the service context`,
          );
        }
        const branch = `wheelhouse/${intent.service}-${intent.environment}-${intent.version}`.replace(
          /[^A-Za-z0-9._/-]/g,
          "-",
        );
        const base = svc?.gitops?.base ?? "main";
        // The version bump: one file per service and environment that holds its version (Argo CD reads it).
        const path = svc?.gitops?.path ?? `apps/${intent.service}/${intent.environment}/version.yaml`;
        const content = [
          `# The version of ${intent.service} deployed to ${intent.environment}; changed through Wheelhouse.`,
          `service: ${intent.service}`,
          `environment: ${intent.environment}`,
          `version: ${intent.version}`,
          "",
        ].join("\n");
        return {
          summary: `Open a pull request in ${repo} deploying ${intent.service} ${intent.version} to ${intent.environment}.`,
          steps: [
            step(1, {
              action_id: "git.pull_request",
              input: {
                repo,
                base,
                branch,
                title: `Deploy ${intent.service} ${intent.version} to ${intent.environment}`,
                body: `Requested through Wheelhouse: deploy ${intent.service} ${intent.version} to ${intent.environment}. Branch ${branch} sets ${path} to ${intent.version}.`,
                files: [{ path, content }],
              },
              rationale: `GitOps: the change goes through review in ${repo} rather than straight to the cluster.`,
              expected_effect: `A pull request from ${branch} into ${base} sets ${path} to ${intent.version} and awaits review; merging it deploys ${intent.version}.`,
              verification: {
                description: `GitHub answers with the pull request it opened; ArgoCD app ${app} syncs after the merge`,
              },
              rollback: null,
            }),
          ],
        };
      }
      const previous = svc?.argocd;
      return {
        summary: `Sync ArgoCD app ${app} to ${intent.version} (${intent.environment}).`,
        steps: [
          step(1, {
            action_id: "argocd.app_get",
            input: { app, refresh: true },
            rationale: `Record the app's current revision and health before the sync${now}.`,
          }),
          step(2, {
            action_id: "argocd.app_diff",
            input: { app, revision: intent.version },
            rationale: `Show what syncing to ${intent.version} changes, for the reviewer.`,
          }),
          step(3, {
            action_id: "argocd.app_sync",
            input: { app, revision: intent.version, timeout_seconds: 600 },
            rationale: `The operator asked to deploy ${intent.service} ${intent.version} to ${intent.environment}.`,
            expected_effect: `${app} is synced to ${intent.version} and healthy.`,
            verification: withErrorRatio({
              description: `${app} reports Synced and Healthy`,
              action_id: "argocd.app_wait",
              input: { app, health: true, sync: true, timeout_seconds: 600 },
            }),
            rollback:
              previous?.history_id !== undefined
                ? { action_id: "argocd.app_rollback", input: { app, history_id: previous.history_id } }
                : previous?.revision
                  ? { action_id: "argocd.app_sync", input: { app, revision: previous.revision } }
                  : null,
          }),
        ],
      };
    }
    case "helm_upgrade": {
      const chart = intent.chart ?? svc?.helm?.chart;
      if (!chart) {
        const running = svc?.helm?.chart_name
          ? ` (it runs chart ${[svc.helm.chart_name, svc.helm.version].filter(Boolean).join(" ")}, a name without a repository)`
          : "";
        throw new TemplateError(
          `upgrading the ${release} release needs its chart${running}: say "helm upgrade ${intent.service} to <version> with chart <repo>/<name>" or record the chart in the service context`,
        );
      }
      const base = { release, chart, namespace, ...(intent.version ? { version: intent.version } : {}) };
      return {
        summary: `Helm upgrade of ${release} in ${namespace} (${intent.environment}) to ${chart}${intent.version ? ` ${intent.version}` : ""}.`,
        steps: [
          step(1, {
            action_id: "helm.history",
            input: { release, namespace, max: 10 },
            rationale: `Record the current revision to roll back to${now}.`,
          }),
          step(2, {
            action_id: "helm.upgrade_dry_run",
            input: { ...base },
            rationale: `Render and validate the upgrade against the cluster before changing anything${assumed}.`,
          }),
          step(3, {
            action_id: "helm.upgrade",
            input: { ...base, atomic: true, wait: true, timeout_seconds: 600 },
            rationale: `The operator asked to upgrade ${intent.service} in ${intent.environment}.`,
            expected_effect: `Release ${release} is at ${chart}${intent.version ? ` ${intent.version}` : ""}, status deployed; --atomic undoes a failed upgrade by itself.`,
            verification: withErrorRatio({
              description: `release ${release} reports status deployed`,
              action_id: "helm.status",
              input: { release, namespace },
            }),
            rollback: {
              action_id: "helm.rollback",
              input: { release, namespace, revision: svc?.helm?.revision ?? 0, wait: true },
            },
          }),
        ],
      };
    }
    case "helm_rollback": {
      const revision = intent.revision ?? 0;
      const current = svc?.helm?.revision;
      return {
        summary: `Helm rollback of ${release} in ${namespace} (${intent.environment}) to ${revision === 0 ? "the previous revision" : `revision ${revision}`}.`,
        steps: [
          step(1, {
            action_id: "helm.history",
            input: { release, namespace, max: 10 },
            rationale: `Show the revisions and record the current one${assumed}${now}.`,
          }),
          step(2, {
            action_id: "helm.rollback",
            input: { release, namespace, revision, wait: true, timeout_seconds: 600 },
            rationale: `The operator asked to roll back ${intent.service} in ${intent.environment}.`,
            expected_effect: `Release ${release} runs ${revision === 0 ? "the previous revision" : `revision ${revision}`} again, status deployed.`,
            verification: withErrorRatio({
              description: `release ${release} reports status deployed`,
              action_id: "helm.status",
              input: { release, namespace },
            }),
            rollback: { action_id: "helm.rollback", input: { release, namespace, revision: current ?? 0, wait: true } },
          }),
        ],
      };
    }
    case "rotate_secret": {
      const mount = svc?.vault?.mount ?? "secret";
      const path = intent.path ?? svc?.vault?.path ?? `${intent.environment}/${intent.service}`;
      const ref = (options.rotationRef ?? defaultRotationRef)(intent.service, intent.environment, intent.field);
      const version = svc?.vault?.version;
      return {
        summary: `Rotate ${intent.field} of ${intent.service} (${intent.environment}): new version of ${mount}/${path}, then restart ${workload}.`,
        steps: [
          step(1, {
            action_id: "vault.kv_metadata_get",
            input: { mount, path },
            rationale: `Record the current version of ${mount}/${path} to roll back to.`,
          }),
          step(2, {
            action_id: "vault.kv_put",
            input: {
              mount,
              path,
              data_refs: { [intent.field]: ref },
              ...(version === undefined ? {} : { cas: version }),
            },
            rationale: `The operator asked to rotate the ${intent.field} of ${intent.service} in ${intent.environment}; the new value is read from ${ref}, never from the plan.`,
            expected_effect: `${mount}/${path} has a new version holding the new ${intent.field}.`,
            verification: {
              description: `the secret's current version is one higher`,
              action_id: "vault.kv_metadata_get",
              input: { mount, path },
            },
            rollback:
              version === undefined ? null : { action_id: "vault.kv_rollback", input: { mount, path, version } },
          }),
          step(3, {
            action_id: "kubectl.rollout_restart",
            input: { kind, name: workload, namespace },
            rationale: `${workload} reads the secret at start-up; a rolling restart picks up the new value${assumed}.`,
            expected_effect: `Pods of ${workload} are replaced and use the new ${intent.field}.`,
            verification: rolloutStatus(`the restart of ${workload} completes with every replica ready`),
            rollback: null,
          }),
        ],
      };
    }
    case "investigate":
      return investigate(intent, { target, kind, workload, namespace, release, app: svc?.argocd?.app });
  }
}

function defaultRotationRef(service: string, _environment: string, field: string): string {
  return `env:WH_ROTATE_${`${service}_${field}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

/** The template planner cannot build a plan for an intent it did understand (missing chart, repo): the message says what to add. */
export class TemplateError extends ValidationError {
  constructor(message: string) {
    super(message, { field: "intent", fix: message });
    this.name = "TemplateError";
  }
}

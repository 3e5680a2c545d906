/**
 * The template planner: deterministic plans for the common intents, read from
 * plain words ("scale checkout to 6 in staging") or from Alertmanager labels.
 * It is the planner when no LLM is configured (the quick start needs no API
 * key) and the fallback when the provider is down. What it does not
 * understand fails with examples of what it does.
 */
import type { PlanStep } from "../../events/plan.ts";
import type { AlertSignal, PlanningContext, ServiceContext } from "./types.ts";

export type TemplateIntent =
  | {
      readonly kind: "scale";
      readonly service: string;
      readonly environment: string;
      readonly replicas: number;
      readonly namespace?: string | undefined;
    }
  | {
      readonly kind: "deploy";
      readonly service: string;
      readonly environment: string;
      readonly version: string;
      readonly via: "argocd" | "pr";
      readonly repo?: string | undefined;
      readonly namespace?: string | undefined;
    }
  | {
      readonly kind: "helm_upgrade";
      readonly service: string;
      readonly environment: string;
      readonly version?: string | undefined;
      readonly chart?: string | undefined;
      readonly namespace?: string | undefined;
    }
  | {
      readonly kind: "helm_rollback";
      readonly service: string;
      readonly environment: string;
      readonly revision?: number | undefined;
      readonly namespace?: string | undefined;
    }
  | {
      readonly kind: "restart";
      readonly service: string;
      readonly environment: string;
      readonly namespace?: string | undefined;
    }
  | {
      readonly kind: "rotate_secret";
      readonly service: string;
      readonly environment: string;
      readonly field: string;
      readonly path?: string | undefined;
      readonly namespace?: string | undefined;
    }
  | {
      readonly kind: "investigate";
      readonly service: string;
      readonly environment: string;
      readonly namespace?: string | undefined;
      readonly alertname?: string | undefined;
      readonly pod?: string | undefined;
      readonly severity?: string | undefined;
    };

/** Phrasings the template planner understands; shown when it does not understand an intent. */
export const TEMPLATE_EXAMPLES: readonly string[] = [
  "scale checkout to 6 in staging",
  "deploy checkout v1.4.2 to production",
  "deploy checkout v1.4.2 to production via PR in acme/gitops",
  "helm upgrade checkout to 2.3.0 in staging",
  "roll back checkout in production",
  "restart checkout in staging",
  "rotate the checkout database password in staging",
  "investigate checkout in production",
];

export type ParseResult =
  | { readonly ok: true; readonly intent: TemplateIntent }
  | { readonly ok: false; readonly reason: string };

const ENV_ALIASES: Readonly<Record<string, string>> = {
  prod: "production",
  production: "production",
  prd: "production",
  staging: "staging",
  stage: "staging",
  stg: "staging",
  dev: "development",
  development: "development",
  qa: "qa",
  test: "test",
  testing: "test",
  uat: "uat",
  preprod: "preprod",
  "pre-prod": "preprod",
  sandbox: "sandbox",
  canary: "canary",
};
const ENV_WORDS = Object.keys(ENV_ALIASES)
  .sort((a, b) => b.length - a.length)
  .map((w) => w.replace("-", "\\-"))
  .join("|");

/** Words that are never a service name. */
const STOP = new Set([
  "the",
  "a",
  "an",
  "to",
  "in",
  "on",
  "of",
  "for",
  "replicas",
  "replica",
  "pods",
  "pod",
  "deployment",
  "service",
  "app",
  "release",
  "helm",
  "version",
  "chart",
  "last",
  "secret",
  "password",
  "all",
  "it",
  "up",
  "down",
]);

const NAME = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const VERSION = "v?\\d+\\.\\d+(?:\\.\\d+)?(?:-[0-9a-z.-]+)?|[0-9a-f]{7,40}";
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function env(word: string): string {
  return ENV_ALIASES[word] ?? word;
}

function pickService(...candidates: (string | undefined)[]): string | undefined {
  return candidates.find((c) => c !== undefined && !STOP.has(c) && DNS_LABEL.test(c) && !/^\d+$/.test(c));
}

/**
 * Reads a plain-words intent. The environment may be given as "in staging",
 * "on prod", "(staging)", "env=staging"; a namespace as "namespace shop",
 * "ns shop" or "-n shop".
 */
export function parseIntent(text: string, defaults: { environment?: string | undefined } = {}): ParseResult {
  let t = ` ${text
    .toLowerCase()
    .replace(/[“”"`]/g, "")
    .replace(/\s+/g, " ")
    .trim()} `;
  let environment: string | undefined;
  let namespace: string | undefined;

  const ns = new RegExp(`\\s(?:in\\s+|on\\s+)?(?:namespace|ns|-n)\\s+(${NAME})\\b`).exec(t);
  if (ns) {
    namespace = ns[1];
    t = t.replace(ns[0], " ");
  }
  const envPatterns = [
    new RegExp(`\\s?\\(\\s*(?:env(?:ironment)?\\s*[:=]?\\s*)?(${ENV_WORDS})\\s*\\)`),
    new RegExp(
      `\\s(?:env(?:ironment)?\\s*[:=]\\s*|(?:in|on|to|into|for|at)\\s+(?:the\\s+)?(?:env(?:ironment)?\\s+)?)(${ENV_WORDS})(?:\\s+(?:env(?:ironment)?|cluster))?(?=[\\s.,;!?])`,
    ),
    new RegExp(`\\s(${ENV_WORDS})(?=[\\s.,;!?]*$)`),
  ];
  for (const re of envPatterns) {
    const m = re.exec(t);
    if (m?.[1]) {
      environment = env(m[1]);
      t = t.replace(m[0], " ");
      break;
    }
  }
  environment ??= defaults.environment;
  t = t
    .replace(/[,;!?]+/g, " ")
    .replace(/\.(\s|$)/g, " ")
    .replace(/\s+/g, " ");

  const intent = matchIntent(t);
  if (!intent) {
    return {
      ok: false,
      reason: `the template planner does not understand "${text.trim()}"; it understands phrasings like: ${TEMPLATE_EXAMPLES.map((e) => `"${e}"`).join(", ")}`,
    };
  }
  if (!intent.service) {
    return { ok: false, reason: `name the service, e.g. "${TEMPLATE_EXAMPLES[0]}"` };
  }
  if (!environment) {
    return {
      ok: false,
      reason: `say which environment "${text.trim()}" is for, e.g. "... in staging" or "... on production"`,
    };
  }
  return { ok: true, intent: { ...intent, environment, ...(namespace ? { namespace } : {}) } as TemplateIntent };
}

/** An intent before its environment is known: each variant without `environment`, `service` maybe missing. */
type PartialIntent = TemplateIntent extends infer T
  ? T extends TemplateIntent
    ? Omit<T, "environment" | "service"> & { service: string | undefined }
    : never
  : never;

function matchIntent(t: string): PartialIntent | undefined {
  let m: RegExpExecArray | null;
  const g = (x: RegExpExecArray, name: string) => x.groups?.[name];

  // Restart before deploy, so "rollout restart" is not read as "roll out".
  m = new RegExp(
    `\\b(?:(?:do\\s+a\\s+)?(?:rolling|rollout)\\s+restart(?:\\s+of)?|restart|bounce|recycle|cycle)\\s+(?:the\\s+)?(?:pods\\s+(?:of|for)\\s+)?(?:deployment\\s+|deploy/|deployment/)?(?<svc>${NAME})\\b`,
  ).exec(t);
  if (m) return { kind: "restart", service: pickService(g(m, "svc")) };

  m = new RegExp(
    `\\brotate\\s+(?:the\\s+)?(?:secret\\s+(?<path>[a-z0-9_][a-z0-9_./-]*\\/[a-z0-9_./-]+)|(?:(?<svc>${NAME})(?:'s)?\\s+)?(?<what>(?:database\\s+|db\\s+)?(?:password|credentials?|api[ _-]?key|secret|token|signing\\s+key))(?:\\s+(?:for|of)\\s+(?:the\\s+)?(?<svc2>${NAME}))?)`,
  ).exec(t);
  if (m) {
    const path = g(m, "path");
    const what = g(m, "what") ?? "password";
    const field = /api/.test(what)
      ? "api_key"
      : /token/.test(what)
        ? "token"
        : /signing/.test(what)
          ? "signing_key"
          : /secret/.test(what)
            ? "secret"
            : "password";
    // In "<team>/<service>/<name>" the service is the second to last part; environment names are skipped.
    const parts = (path?.split("/") ?? []).filter((p) => !ENV_ALIASES[p]);
    const fromPath = parts.length >= 2 ? parts[parts.length - 2] : parts[0];
    const service = pickService(g(m, "svc"), g(m, "svc2"), fromPath);
    return { kind: "rotate_secret", service, field, ...(path ? { path } : {}) };
  }

  m = new RegExp(
    `\\b(?:roll\\s*back|rollback|revert|undo)\\s+(?:the\\s+)?(?:last\\s+|latest\\s+)?(?:helm\\s+)?(?:release\\s+|deploy(?:ment)?\\s+of\\s+|upgrade\\s+of\\s+)?(?<svc>${NAME})(?:\\s+(?:helm\\s+)?(?:release|deploy(?:ment)?|upgrade))?(?:\\s+to\\s+(?:revision|rev)\\s+(?<rev>\\d+))?`,
  ).exec(t);
  if (m) {
    const rev = g(m, "rev");
    return { kind: "helm_rollback", service: pickService(g(m, "svc")), ...(rev ? { revision: Number(rev) } : {}) };
  }

  const chartRe =
    /\b(?:with|using)?\s*chart\s+(?<chart>[a-z0-9][a-z0-9_-]*\/[a-z0-9][a-z0-9._-]*|oci:\/\/[a-z0-9./:-]+)/;
  const chart = chartRe.exec(t)?.groups?.chart;
  const tc = chart ? t.replace(chartRe, " ") : t;
  for (const re of [
    new RegExp(
      `\\bhelm\\s+upgrade\\s+(?:the\\s+)?(?:release\\s+)?(?<svc>${NAME})(?:\\s+(?:release|chart))?(?:\\s+(?:to|at)?\\s*(?:chart\\s+)?(?:version\\s+)?(?<ver>${VERSION}))?`,
    ),
    new RegExp(
      `\\bupgrade\\s+(?:the\\s+)?(?:helm\\s+)?(?:release\\s+)?(?<svc>${NAME})(?:\\s+helm)?\\s+(?:release|chart)\\s+to\\s+(?:chart\\s+)?(?:version\\s+)?(?<ver>${VERSION})`,
    ),
    new RegExp(
      `\\bupgrade\\s+helm\\s+release\\s+(?<svc>${NAME})\\s+to\\s+(?:chart\\s+)?(?:version\\s+)?(?<ver>${VERSION})`,
    ),
    new RegExp(`\\bupgrade\\s+(?:the\\s+)?(?<svc>${NAME})\\s+(?:helm\\s+)?chart\\s+to\\s+(?<ver>${VERSION})`),
  ]) {
    m = re.exec(tc);
    if (m) {
      const ver = g(m, "ver");
      return {
        kind: "helm_upgrade",
        service: pickService(g(m, "svc")),
        ...(ver ? { version: ver } : {}),
        ...(chart ? { chart } : {}),
      };
    }
  }

  const viaPr =
    /\b(?:via|through|with|by|as)\s+(?:a\s+)?(?:pr|pull\s+request|merge\s+request)\b|\bopen\s+a\s+(?:pr|pull\s+request)\b/.test(
      t,
    );
  const repo =
    /\b(?:in|on|to)?\s*(?:repo(?:sitory)?\s+)?(?<repo>[a-z0-9][a-z0-9-]{0,38}\/[a-z0-9_.][a-z0-9_.-]{0,99})\b/.exec(
      t.replace(/\bchart\s+\S+/, ""),
    )?.groups?.repo;
  for (const re of [
    new RegExp(
      `\\b(?:deploy|ship|release|roll\\s*out|promote|push)\\s+(?:version\\s+)?(?<svc>${NAME})\\s+(?:version\\s+|at\\s+|@)?(?<ver>${VERSION})\\b`,
    ),
    new RegExp(
      `\\b(?:deploy|ship|release|roll\\s*out|promote|push)\\s+(?:version\\s+)?(?<ver>${VERSION})\\s+(?:of\\s+)?(?<svc>${NAME})\\b`,
    ),
    new RegExp(
      `\\b(?:sync|update|bump)\\s+(?:the\\s+)?(?:argo(?:cd)?\\s+app\\s+)?(?<svc>${NAME})\\s+(?:image\\s+|version\\s+)?(?:to|at)\\s+(?:version\\s+)?(?<ver>${VERSION})\\b`,
    ),
  ]) {
    m = re.exec(t);
    if (m && pickService(g(m, "svc"))) {
      return {
        kind: "deploy",
        service: pickService(g(m, "svc")),
        version: g(m, "ver") as string,
        via: viaPr ? "pr" : "argocd",
        ...(viaPr && repo ? { repo } : {}),
      };
    }
  }

  for (const re of [
    new RegExp(
      `\\b(?:scale|resize)\\s+(?:up\\s+|down\\s+|out\\s+|in\\s+)?(?:the\\s+)?(?:deployment\\s+|statefulset\\s+|deploy/|deployment/)?(?<svc>${NAME})(?:\\s+(?:deployment|service|app|statefulset))?\\s+(?:to|=)\\s+(?<n>\\d+)`,
    ),
    new RegExp(
      `\\b(?:bump|set|raise|increase|reduce|lower|decrease|change|adjust)\\s+(?:the\\s+)?(?<svc>${NAME})(?:'s)?\\s+(?:replicas|replica\\s+count|pods|instances)\\s+(?:to|=)\\s+(?<n>\\d+)`,
    ),
    new RegExp(
      `\\b(?:bump|set|raise|increase|reduce|lower|decrease|change|adjust)\\s+(?:the\\s+)?(?:replicas|replica\\s+count)\\s+(?:of|for)\\s+(?<svc>${NAME})\\s+(?:to|=)\\s+(?<n>\\d+)`,
    ),
    new RegExp(
      `\\b(?:set|scale|put)\\s+(?:the\\s+)?(?<svc>${NAME})\\s+(?:to|at|=)\\s+(?<n>\\d+)\\s+(?:replicas|pods|instances|copies)`,
    ),
    new RegExp(
      `\\b(?:run|scale\\s+to|i\\s+want)\\s+(?<n>\\d+)\\s+(?:replicas|pods|instances|copies)\\s+(?:of|for)\\s+(?<svc>${NAME})`,
    ),
    new RegExp(
      `^\\s*(?<svc>${NAME})(?:'s)?\\s*(?:replicas\\s*)?(?:to|=|:|->)\\s*(?<n>\\d+)(?:\\s+(?:replicas|pods|instances))?\\s*$`,
    ),
  ]) {
    m = re.exec(t);
    if (m) return { kind: "scale", service: pickService(g(m, "svc")), replicas: Number(g(m, "n")) };
  }

  m = new RegExp(
    `\\b(?:investigate|look\\s+into|debug|diagnose|triage|check\\s+on|check|what'?s\\s+(?:wrong|up|happening)\\s+with|why\\s+is|why\\s+are|what\\s+is\\s+wrong\\s+with)\\s+(?:the\\s+)?(?:alert\\s+(?:for|on)\\s+)?(?<svc>${NAME})`,
  ).exec(t);
  if (m) return { kind: "investigate", service: pickService(g(m, "svc")) };
  return undefined;
}

/** Alert labels Alertmanager commonly carries the service in, most specific first. */
const SERVICE_LABELS = [
  "service",
  "app",
  "app_kubernetes_io_name",
  "deployment",
  "statefulset",
  "daemonset",
  "container",
  "job",
];

/** Reads an investigate intent from a firing alert's labels. Null when no service can be told. */
export function intentFromAlert(
  signal: Pick<AlertSignal, "labels" | "service" | "environment">,
): TemplateIntent | null {
  const labels = signal.labels ?? {};
  const pod = labels.pod;
  let service = signal.service;
  for (const key of SERVICE_LABELS) {
    if (service) break;
    const value = labels[key];
    if (
      value &&
      DNS_LABEL.test(value) &&
      !/^(kube-state-metrics|kubelet|node-exporter|apiserver|prometheus)$/.test(value)
    )
      service = value;
  }
  if (!service && pod) service = pod.replace(/-[a-z0-9]{8,10}-[a-z0-9]{5}$/, "").replace(/-[a-z0-9]{5}$/, "");
  if (!service || !DNS_LABEL.test(service)) return null;
  const environment = env(signal.environment ?? labels.env ?? labels.environment ?? labels.stage ?? "unknown");
  return {
    kind: "investigate",
    service,
    environment,
    ...(labels.namespace && DNS_LABEL.test(labels.namespace) ? { namespace: labels.namespace } : {}),
    ...(labels.alertname ? { alertname: labels.alertname } : {}),
    ...(pod && DNS_LABEL.test(pod) ? { pod } : {}),
    ...(labels.severity ? { severity: labels.severity } : {}),
  };
}

/** Finds the service in the context, for its namespace, release, app and current state. */
export function findService(
  context: PlanningContext | null | undefined,
  service: string,
  environment: string,
): ServiceContext | undefined {
  return context?.services?.find((s) => s.name === service && env(s.environment) === environment);
}

export interface TemplateOptions {
  /** Namespace when neither the request nor the context names one; the environment name by default. */
  readonly defaultNamespace?: ((service: string, environment: string) => string) | undefined;
  /** Where a rotated secret's new value comes from (a `data_refs` reference). */
  readonly rotationRef?: ((service: string, environment: string, field: string) => string) | undefined;
}

/** Builds the steps (and a one-line summary) for an intent. Deterministic. */
export function buildTemplatePlan(
  intent: TemplateIntent,
  context: PlanningContext | null | undefined,
  options: TemplateOptions = {},
): { summary: string; steps: PlanStep[] } {
  const svc = findService(context, intent.service, intent.environment);
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
  const rolloutStatus = (description: string) => ({
    description,
    action_id: "kubectl.rollout_status",
    input: { kind, name: workload, namespace, timeout_seconds: 300 },
  });
  const step = (n: number, s: Omit<PlanStep, "step_id" | "target">): PlanStep => ({ step_id: `s${n}`, target, ...s });

  switch (intent.kind) {
    case "scale": {
      const current = svc?.replicas;
      return {
        summary: `Scale ${kind} ${workload} in ${namespace} (${intent.environment}) to ${intent.replicas} replicas${current === undefined ? "" : ` from ${current}`}.`,
        steps: [
          step(1, {
            action_id: "kubectl.get",
            input: { kind, name: workload, namespace, output: "json" },
            rationale: `Record the current replica count of ${workload} before changing it${assumed}.`,
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
            expected_effect: `${workload} runs ${intent.replicas} ready replicas${current === undefined ? "" : ` (was ${current})`}.`,
            verification: rolloutStatus(`${workload} reports ${intent.replicas}/${intent.replicas} ready replicas`),
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
            rationale: `The operator asked to restart ${intent.service} in ${intent.environment}${assumed}.`,
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
        return {
          summary: `Open a pull request in ${repo} deploying ${intent.service} ${intent.version} to ${intent.environment}.`,
          steps: [
            step(1, {
              action_id: "gh.pr_create",
              input: {
                repo,
                base: svc?.gitops?.base ?? "main",
                head: branch,
                title: `Deploy ${intent.service} ${intent.version} to ${intent.environment}`,
                body: `Requested through Wheelhouse: deploy ${intent.service} ${intent.version} to ${intent.environment}. Branch ${branch} carries the version bump.`,
                draft: false,
              },
              rationale: `GitOps: the change goes through review in ${repo} rather than straight to the cluster.`,
              expected_effect: `A pull request from ${branch} into ${svc?.gitops?.base ?? "main"} awaits review; merging it deploys ${intent.version}.`,
              verification: {
                description: `the pull request exists and its checks pass; ArgoCD app ${app} syncs after the merge`,
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
            rationale: `Record the app's current revision and health before the sync.`,
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
            verification: {
              description: `${app} reports Synced and Healthy`,
              action_id: "argocd.app_wait",
              input: { app, health: true, sync: true, timeout_seconds: 600 },
            },
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
        throw new TemplateError(
          `upgrading the ${release} release needs its chart: say "helm upgrade ${intent.service} to <version> with chart <repo>/<name>" or record the chart in the service context`,
        );
      }
      const base = { release, chart, namespace, ...(intent.version ? { version: intent.version } : {}) };
      return {
        summary: `Helm upgrade of ${release} in ${namespace} (${intent.environment}) to ${chart}${intent.version ? ` ${intent.version}` : ""}.`,
        steps: [
          step(1, {
            action_id: "helm.history",
            input: { release, namespace, max: 10 },
            rationale: `Record the current revision to roll back to.`,
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
            verification: {
              description: `release ${release} reports status deployed`,
              action_id: "helm.status",
              input: { release, namespace },
            },
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
            rationale: `Show the revisions and record the current one${assumed}.`,
          }),
          step(2, {
            action_id: "helm.rollback",
            input: { release, namespace, revision, wait: true, timeout_seconds: 600 },
            rationale: `The operator asked to roll back ${intent.service} in ${intent.environment}.`,
            expected_effect: `Release ${release} runs ${revision === 0 ? "the previous revision" : `revision ${revision}`} again, status deployed.`,
            verification: {
              description: `release ${release} reports status deployed`,
              action_id: "helm.status",
              input: { release, namespace },
            },
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

function investigate(
  intent: Extract<TemplateIntent, { kind: "investigate" }>,
  at: {
    target: PlanStep["target"];
    kind: string;
    workload: string;
    namespace: string;
    release: string;
    app: string | undefined;
  },
): { summary: string; steps: PlanStep[] } {
  const { target, kind, workload, namespace, release } = at;
  const steps: Omit<PlanStep, "step_id" | "target">[] = [];
  const alert = intent.alertname ?? "";
  const crashing = /CrashLoop|PodNotReady|ContainerWaiting|OOMKill|Restart/i.test(alert);
  const replicas = /ReplicasMismatch|RolloutStuck|GenerationMismatch|HPA|Unavailable/i.test(alert);
  steps.push({
    action_id: "kubectl.get",
    input: { kind, name: workload, namespace, output: "json" },
    rationale: `Current state of ${workload}: replicas, images, conditions.`,
  });
  if (crashing && intent.pod) {
    steps.push({
      action_id: "kubectl.describe",
      input: { kind: "pod", name: intent.pod, namespace },
      rationale: `Why pod ${intent.pod} restarts: last state, exit code, events.`,
    });
    steps.push({
      action_id: "kubectl.logs",
      input: { kind: "pod", name: intent.pod, namespace, previous: true, tail_lines: 200 },
      rationale: `Logs of the crashed container, from before its last restart.`,
    });
  } else {
    steps.push({
      action_id: "kubectl.describe",
      input: { kind, name: workload, namespace },
      rationale: `Conditions and recent events of ${workload}.`,
    });
    steps.push({
      action_id: "kubectl.logs",
      input: {
        kind,
        name: workload,
        namespace,
        tail_lines: 500,
        since_seconds: 1800,
        ...(crashing ? { previous: true } : {}),
      },
      rationale: `Recent logs of ${workload}, for errors around the time of the ${alert || "problem"}.`,
    });
  }
  if (replicas) {
    steps.push({
      action_id: "kubectl.rollout_status",
      input: { kind, name: workload, namespace, timeout_seconds: 30 },
      rationale: `Whether a rollout is stuck.`,
    });
    steps.push({
      action_id: "kubectl.get",
      input: { kind: "horizontalpodautoscaler", namespace },
      rationale: `Whether an autoscaler is fighting the desired replica count.`,
    });
  }
  steps.push({
    action_id: "kubectl.get",
    input: { kind: "event", namespace },
    rationale: `Recent events in ${namespace}: scheduling, image pulls, probes, evictions.`,
  });
  steps.push({
    action_id: "helm.history",
    input: { release, namespace, max: 5 },
    rationale: `Whether a recent release coincides with the ${alert || "problem"}.`,
  });
  if (at.app)
    steps.push({
      action_id: "argocd.app_get",
      input: { app: at.app },
      rationale: `Sync state and health of ${at.app}.`,
    });
  return {
    summary: `Investigate ${alert ? `${alert} on ` : ""}${intent.service} in ${namespace} (${intent.environment}): read-only.`,
    steps: steps.map((s, i) => ({ step_id: `s${i + 1}`, target, ...s })),
  };
}

function defaultRotationRef(service: string, _environment: string, field: string): string {
  return `env:WH_ROTATE_${`${service}_${field}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

/** The template planner cannot build a plan for an intent it did understand (missing chart, repo). */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

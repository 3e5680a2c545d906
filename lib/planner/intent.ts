/**
 * The template planner's reading of an intent: plain words ("scale checkout
 * to 6 in staging") or a firing alert's labels become a `TemplateIntent`.
 * What it does not understand fails with examples of what it does. The plan
 * for an intent is built in template.ts.
 */
import type { AlertSignal } from "./types.ts";

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

/** The canonical name of an environment word ("prod" → "production"); unknown words pass as they are. */
export function canonicalEnvironment(word: string): string {
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
      environment = canonicalEnvironment(m[1]);
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

/**
 * Reads an intent from a firing alert's labels. Null when no service can be told. An investigation
 * (read-only), unless the alert rule names its remedy: `remediation="scale"` with `replicas="N"`
 * (infra/prometheus/rules: checkout below its replica floor) is a scale to N. The labels come from
 * the operator's rule, not from the alert's free text, and the plan still goes through policy and
 * approval like any other.
 */
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
  const environment = canonicalEnvironment(
    signal.environment ?? labels.env ?? labels.environment ?? labels.stage ?? "unknown",
  );
  const namespace = labels.namespace && DNS_LABEL.test(labels.namespace) ? labels.namespace : undefined;
  if (labels.remediation === "scale" && /^[1-9][0-9]{0,3}$/.test(labels.replicas ?? "")) {
    return { kind: "scale", service, environment, replicas: Number(labels.replicas), namespace };
  }
  return {
    kind: "investigate",
    service,
    environment,
    ...(namespace ? { namespace } : {}),
    ...(labels.alertname ? { alertname: labels.alertname } : {}),
    ...(pod && DNS_LABEL.test(pod) ? { pod } : {}),
    ...(labels.severity ? { severity: labels.severity } : {}),
  };
}

/**
 * The kubectl fallback: the catalog's `api_fallback` kubectl actions (get, scale, annotate,
 * rollout restart and status, cordon, uncordon) through the Kubernetes API with
 * `@kubernetes/client-node`, used only when kubectl is not installed. Same inputs and the same
 * kubeconfig the CLI would read; the output is kubectl's (`deployment.apps/web scaled`, `get -o
 * json`, rollout status lines, `Error from server (NotFound): …`), so the evidence reads the same
 * and only `via: "api"` and the request tell the paths apart. The other kubectl actions have no
 * API path (describe and rollout undo are kubectl's own client-side logic; logs, apply, get_objects
 * and drain need the CLI) and are refused when kubectl is missing.
 */
import { existsSync } from "node:fs";
import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import { stringify as toYaml } from "yaml";
import { UnavailableError, ValidationError } from "../../lib/errors/index.ts";
import { createLineScrubber, createSecretScrubber } from "../../lib/redact/index.ts";
import { KUBECTL_FIELD_MANAGER } from "../../lib/tools/index.ts";
import { RolloutError, watchRollout } from "./kubernetes-rollout.ts";
import { type ApiOutcome, type ApiRequest, callApi, type ToolApi } from "./tool-api.ts";

export interface KubernetesApiDeps {
  /** The kubeconfig file: the one kubectl would read (KUBECONFIG, or ~/.kube/config). */
  readonly kubeconfig: string;
  readonly now?: (() => Date) | undefined;
}

type Input = Readonly<Record<string, unknown>>;
// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects as JSON, read and patched field by field
type Json = any;

interface KindInfo {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const kindInfo = (apiVersion: string, kind: string, plural: string, namespaced = true): KindInfo => ({
  apiVersion,
  kind,
  plural,
  namespaced,
});

/** The catalog's kinds (schemas/tools/kubectl.json) as the API serves them. */
const KINDS: Readonly<Record<string, KindInfo>> = {
  deployment: kindInfo("apps/v1", "Deployment", "deployments"),
  statefulset: kindInfo("apps/v1", "StatefulSet", "statefulsets"),
  daemonset: kindInfo("apps/v1", "DaemonSet", "daemonsets"),
  replicaset: kindInfo("apps/v1", "ReplicaSet", "replicasets"),
  pod: kindInfo("v1", "Pod", "pods"),
  service: kindInfo("v1", "Service", "services"),
  configmap: kindInfo("v1", "ConfigMap", "configmaps"),
  ingress: kindInfo("networking.k8s.io/v1", "Ingress", "ingresses"),
  job: kindInfo("batch/v1", "Job", "jobs"),
  cronjob: kindInfo("batch/v1", "CronJob", "cronjobs"),
  horizontalpodautoscaler: kindInfo("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
  poddisruptionbudget: kindInfo("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
  event: kindInfo("v1", "Event", "events"),
  node: kindInfo("v1", "Node", "nodes", false),
  namespace: kindInfo("v1", "Namespace", "namespaces", false),
};

/** `deployment.apps`, `pod`: how kubectl names a resource in what it prints. */
function qualified(k: KindInfo): string {
  const group = k.apiVersion.includes("/") ? k.apiVersion.split("/")[0] : "";
  return group ? `${k.kind.toLowerCase()}.${group}` : k.kind.toLowerCase();
}

function apiPath(k: KindInfo, namespace: string | undefined, name?: string): string {
  const base = k.apiVersion.includes("/") ? `/apis/${k.apiVersion}` : `/api/${k.apiVersion}`;
  const ns = k.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${base}${ns}/${k.plural}${name ? `/${encodeURIComponent(name)}` : ""}`;
}

/** What kubectl prints when a call fails (exit 1). */
class KubectlFailure extends Error {}

/** The client's typed objects back to the JSON the API served (timestamps as RFC 3339, `continue` named so). */
function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString().replace(/\.000Z$/, "Z");
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (v !== undefined) out[key === "_continue" ? "continue" : key] = plain(v);
    }
    return out;
  }
  return value;
}

/** kubectl's text for a failed call. */
function failureText(error: unknown): string {
  if (error instanceof KubectlFailure || error instanceof RolloutError) return error.message;
  if (error instanceof ApiException) {
    let status: Json;
    try {
      status = typeof error.body === "string" ? JSON.parse(error.body) : error.body;
    } catch {
      status = undefined;
    }
    return status?.message
      ? `Error from server (${status.reason ?? error.code}): ${status.message}`
      : `Error from server: HTTP ${error.code}`;
  }
  return `error: ${(error as Error).message}`;
}

export type KubernetesApi = ToolApi;

export function createKubernetesApi(deps: KubernetesApiDeps): KubernetesApi {
  const now = deps.now ?? (() => new Date());
  const configs = new Map<string, KubeConfig>();
  /** The kubeconfig with the input's context (or its current one), loaded once per context. */
  const configFor = (input: Input): KubeConfig => {
    const context = typeof input.context === "string" ? input.context : "";
    let kc = configs.get(context);
    if (kc) return kc;
    kc = new KubeConfig();
    try {
      kc.loadFromFile(deps.kubeconfig);
    } catch (cause) {
      throw new UnavailableError(`cannot read the kubeconfig ${deps.kubeconfig}: ${(cause as Error).message}`, {
        field: "KUBECONFIG",
        fix: "point KUBECONFIG (allowed by tools.env_allow) at a readable kubeconfig, or install kubectl",
        cause,
      });
    }
    if (context) {
      if (!kc.getContextObject(context)) {
        throw new ValidationError(`the kubeconfig has no context ${context}`, {
          field: "input.context",
          fix: `use one of: ${kc
            .getContexts()
            .map((c) => c.name)
            .join(", ")}`,
        });
      }
      kc.setCurrentContext(context);
    }
    configs.set(context, kc);
    return kc;
  };
  const server = (input: Input) => (configFor(input).getCurrentCluster()?.server ?? "").replace(/\/+$/, "");
  const kindOf = (input: Input): KindInfo => {
    const info = KINDS[String(input.kind)];
    if (!info) throw new ValidationError(`unknown kind ${String(input.kind)}`, { field: "input.kind" });
    return info;
  };

  const describe = (action: string, input: Input): ApiRequest => {
    const ns = typeof input.namespace === "string" ? input.namespace : undefined;
    const name = typeof input.name === "string" ? input.name : undefined;
    switch (action) {
      case "get": {
        const selector = typeof input.label_selector === "string" ? input.label_selector : undefined;
        const query = selector ? `?labelSelector=${encodeURIComponent(selector)}` : "";
        return { method: "GET", url: `${server(input)}${apiPath(kindOf(input), ns, name)}${query}` };
      }
      case "scale":
      case "annotate":
      case "rollout_restart":
        return { method: "PATCH", url: `${server(input)}${apiPath(kindOf(input), ns, name)}` };
      case "rollout_status": {
        const query = `?watch=true&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
        return { method: "GET", url: `${server(input)}${apiPath(kindOf(input), ns)}${query}` };
      }
      case "cordon":
      case "uncordon":
        return {
          method: "PATCH",
          url: `${server(input)}${apiPath(KINDS.node as KindInfo, undefined, String(input.node))}`,
        };
      default:
        throw new ValidationError(`kubectl.${action} has no API path`, {
          field: "action_id",
          fix: "install kubectl where the tool router runs",
        });
    }
  };

  /** Runs one action; resolves with what kubectl would print on stdout, or throws what it prints on failure. */
  async function perform(
    action: string,
    input: Input,
    hooks: { dryRun: boolean; timeoutMs: number; signal?: AbortSignal },
  ) {
    const kc = configFor(input);
    const api = KubernetesObjectApi.makeApiClient(kc);
    const dryRun = hooks.dryRun ? "All" : undefined;
    const suffix = hooks.dryRun ? " (server dry run)" : "";
    const ns = typeof input.namespace === "string" ? input.namespace : undefined;
    const name = String(input.name ?? input.node ?? "");
    const header = (k: KindInfo) => ({
      apiVersion: k.apiVersion,
      kind: k.kind,
      metadata: { name, ...(k.namespaced ? { namespace: ns } : {}) },
    });
    const mergePatch = (k: KindInfo, body: Json) =>
      api.patch(
        { ...header(k), ...body, metadata: { ...header(k).metadata, ...body.metadata } },
        undefined,
        dryRun,
        KUBECTL_FIELD_MANAGER,
        undefined,
        PatchStrategy.MergePatch,
      );
    switch (action) {
      case "get": {
        const k = kindOf(input);
        const output = typeof input.output === "string" ? input.output : "json";
        if (output === "wide") {
          throw new ValidationError("output wide is kubectl's table; the API fallback prints json, yaml or name", {
            field: "input.output",
            fix: "ask for json, yaml or name, or install kubectl",
          });
        }
        let objects: Json[];
        let printed: Json;
        if (typeof input.name === "string") {
          printed = plain(await api.read(header(k)));
          objects = [printed];
        } else {
          const selector = typeof input.label_selector === "string" ? input.label_selector : undefined;
          const list = await api.list(k.apiVersion, k.kind, ns, undefined, undefined, undefined, undefined, selector);
          objects = list.items.map((item) => ({ apiVersion: k.apiVersion, kind: k.kind, ...(plain(item) as Json) }));
          printed = { apiVersion: "v1", items: objects, kind: "List", metadata: { resourceVersion: "" } };
        }
        if (output === "name") return objects.map((o) => `${qualified(k)}/${o.metadata.name}`).join("\n");
        return output === "yaml" ? toYaml(printed).trimEnd() : JSON.stringify(printed, null, 4);
      }
      case "scale": {
        const k = kindOf(input);
        const metadata: Json = {};
        if (typeof input.current_replicas === "number") {
          const live: Json = await api.read(header(k));
          const have = live.spec?.replicas ?? 0;
          if (have !== input.current_replicas) {
            throw new KubectlFailure(`error: Expected replicas to be ${input.current_replicas}, was ${have}`);
          }
          // The precondition holds for exactly the version read.
          metadata.resourceVersion = live.metadata.resourceVersion;
        }
        await mergePatch(k, { metadata, spec: { replicas: input.replicas } });
        return `${qualified(k)}/${name} scaled${suffix}`;
      }
      case "annotate": {
        const k = kindOf(input);
        const wanted = input.annotations as Record<string, string>;
        if (input.overwrite === false) {
          const live: Json = await api.read(header(k));
          const have: Record<string, string> = live.metadata?.annotations ?? {};
          const clash = Object.keys(wanted).find((key) => key in have && have[key] !== wanted[key]);
          if (clash !== undefined) {
            throw new KubectlFailure(
              `error: --overwrite is false but found the following declared annotation(s): '${clash}' already has a value (${have[clash]})`,
            );
          }
        }
        await mergePatch(k, { metadata: { annotations: wanted } });
        return `${qualified(k)}/${name} annotated${suffix}`;
      }
      case "rollout_restart": {
        const k = kindOf(input);
        const at = now()
          .toISOString()
          .replace(/\.\d{3}Z$/, "Z");
        await mergePatch(k, {
          spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": at } } } },
        });
        return `${qualified(k)}/${name} restarted${suffix}`;
      }
      case "rollout_status": {
        const k = kindOf(input);
        const seconds = typeof input.timeout_seconds === "number" ? input.timeout_seconds : 300;
        const initial = plain(await api.read(header(k)));
        const lines = await watchRollout({
          kc,
          path: apiPath(k, ns),
          kind: k.kind,
          name,
          initial,
          timeoutMs: Math.min(seconds * 1000, hooks.timeoutMs),
          signal: hooks.signal,
        });
        return lines.join("\n");
      }
      case "cordon":
      case "uncordon": {
        const node = KINDS.node as KindInfo;
        const live: Json = await api.read(header(node));
        const cordon = action === "cordon";
        if ((live.spec?.unschedulable === true) === cordon) return `node/${name} already ${action}ed`;
        await mergePatch(node, { spec: { unschedulable: cordon ? true : null } });
        return `node/${name} ${action}ed${suffix}`;
      }
      default:
        describe(action, input);
        throw new KubectlFailure(`error: kubectl.${action} has no API path`);
    }
  }

  return {
    describe,
    async run(action, input, hooks): Promise<ApiOutcome> {
      const request = describe(action, input);
      const scrub = (text: string) => text.split("\n").map(createLineScrubber(createSecretScrubber())).join("\n");
      return callApi(`kubectl.${action}`, request, hooks, async () => {
        const timeoutMs = hooks.timeoutMs ?? 120_000;
        const signal = hooks.signal ? { signal: hooks.signal } : {};
        try {
          const stdout = await perform(action, input, { dryRun: hooks.dryRun === true, timeoutMs, ...signal });
          return { stdout: scrub(stdout), stderr: "", ok: true };
        } catch (error) {
          if (error instanceof ValidationError || error instanceof UnavailableError) throw error;
          // As kubectl: its own timeout (rollout status) is a failure (exit 1), not the call timing out.
          const printed = error instanceof RolloutError ? error.printed.join("\n") : "";
          return { stdout: scrub(printed), stderr: scrub(failureText(error)), ok: false };
        }
      });
    },
  };
}

/**
 * The kubeconfig the API fallback reads: the first existing file of KUBECONFIG when the tools'
 * environment passes it through (tools.env_allow), else ~/.kube/config; null when there is none.
 */
export function kubeconfigFor(
  env: Readonly<Record<string, string | undefined>>,
  envAllow: readonly string[],
): string | null {
  const candidates = [
    ...(envAllow.includes("KUBECONFIG") ? (env.KUBECONFIG ?? "").split(":").filter(Boolean) : []),
    ...(env.HOME ? [`${env.HOME}/.kube/config`] : []),
  ];
  return candidates.find((file) => existsSync(file)) ?? null;
}

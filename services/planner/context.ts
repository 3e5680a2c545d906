/**
 * Planning context from the context read model (`context_nodes` / `context_edges`, kept by the
 * context service from the cluster): the service nodes of the request's environment with what the
 * planner reads of each (namespace, workload, replicas, images, HPA bounds, Helm release, Argo CD
 * application, what it depends on and what depends on it), and the snapshot of the graph read,
 * which the plan records.
 */

import {
  type GraphService,
  inScope,
  type PlanningContext,
  type PlanRequest,
  type ServiceContext,
  snapshotOf,
} from "../../lib/planner/index.ts";

/** Services passed to the planner (the requested one first); the snapshot keeps every one read. */
const MAX_SERVICES = 50;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : undefined;

const WORKLOAD_KINDS = { Deployment: "deployment", StatefulSet: "statefulset", DaemonSet: "daemonset" } as const;

/** The one workload a service runs as (`Deployment/checkout`), when it runs as exactly one. */
function workloadOf(a: Record<string, unknown>): Pick<ServiceContext, "kind" | "workload"> {
  const [only, ...more] = strings(a.workloads) ?? [];
  if (!only || more.length > 0) return {};
  const [kind, name] = only.split("/", 2);
  const known = WORKLOAD_KINDS[kind as keyof typeof WORKLOAD_KINDS];
  return known && name ? { kind: known, workload: name } : {};
}

/**
 * Maps a service node of the read model to what the planner reads. `names` resolves node ids
 * (edge ends) to service names; `dependents` are the services with a `depends_on` edge to it.
 */
export function toServiceContext(
  node: GraphService,
  names: ReadonlyMap<string, string> = new Map(),
  dependents: readonly string[] = [],
): ServiceContext | null {
  if (!node.environment) return null;
  const a = node.attributes ?? {};
  const chart = obj(a.chart);
  const application = obj(a.application);
  const hpa = obj(a.hpa);
  const gitops = obj(a.gitops);
  const vault = obj(a.vault);
  const dependsOn = node.edges.filter((e) => e.kind === "depends_on").map((e) => names.get(e.to) ?? e.to);
  const context: ServiceContext = {
    name: node.name,
    environment: node.environment,
    namespace: str(a.namespace),
    cluster: str(a.cluster),
    account: str(a.account),
    ...workloadOf(a),
    replicas: int(a.replicas),
    ready_replicas: int(a.ready_replicas),
    images: strings(a.images),
    hpa: hpa
      ? { name: str(hpa.name), min_replicas: int(hpa.min_replicas), max_replicas: int(hpa.max_replicas) }
      : undefined,
    // The release's chart name is not a reference `helm upgrade` can install from: kept apart.
    helm: chart
      ? {
          release: str(chart.release),
          chart_name: str(chart.name),
          version: str(chart.version),
          revision: int(chart.revision),
          status: str(chart.status),
        }
      : undefined,
    argocd: application ? { app: str(application.name), revision: str(application.revision) } : undefined,
    gitops: gitops ? { repo: str(gitops.repo), base: str(gitops.base), path: str(gitops.path) } : undefined,
    vault: vault ? { mount: str(vault.mount), path: str(vault.path), version: int(vault.version) } : undefined,
    depends_on: dependsOn.length > 0 ? dependsOn : undefined,
    dependents: dependents.length > 0 ? [...dependents] : undefined,
  } as ServiceContext;
  // Absent facts stay absent (not `undefined` keys) in the prompt and the template's view.
  return Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined)) as ServiceContext;
}

/**
 * `getContext` for the planner: the services of the request's environment (all of them when it
 * names none), the requested service first, with their edges, and the snapshot of what was read.
 */
export function createContextReader(listServices: () => Promise<(GraphService & { updated_at?: unknown })[]>) {
  return async (request: PlanRequest): Promise<PlanningContext> => {
    const nodes = await listServices();
    const scope = request.environment === undefined ? {} : { environment: request.environment };
    const read = inScope(nodes, scope);
    const names = new Map(nodes.map((n) => [n.node_id, n.name]));
    const dependents = new Map<string, string[]>();
    for (const n of nodes) {
      for (const e of n.edges) {
        if (e.kind === "depends_on") dependents.set(e.to, [...(dependents.get(e.to) ?? []), n.name]);
      }
    }
    const services = read
      .map((node) => ({ node, ctx: toServiceContext(node, names, dependents.get(node.node_id)) }))
      .filter((x): x is { node: GraphService; ctx: ServiceContext } => x.ctx !== null)
      .sort((x, y) => Number(y.node.name === request.service) - Number(x.node.name === request.service))
      .slice(0, MAX_SERVICES);
    const updated = read.map((n) => String(n.updated_at ?? "")).sort();
    const ref = `context_nodes@${updated.at(-1) ?? ""}`;
    return {
      ref,
      services: services.map((s) => s.ctx),
      edges: services.flatMap((s) =>
        s.node.edges.map((e) => ({ from: s.node.name, kind: e.kind, to: names.get(e.to) ?? e.to })),
      ),
      snapshot: snapshotOf(nodes, scope, ref),
    };
  };
}

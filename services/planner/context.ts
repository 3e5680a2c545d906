/**
 * Planning context from the context read model (`context_nodes` /
 * `context_edges`): the service nodes of the request's environment, their
 * attributes (namespace, replicas, helm release, argocd app, ...) and edges.
 */

import type { PlanningContext, PlanRequest, ServiceContext } from "../../lib/planner/index.ts";
import type { ContextService } from "../../projections/context/queries.ts";

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Maps a service node of the read model to what the planner reads. */
export function toServiceContext(node: ContextService): ServiceContext | null {
  if (!node.environment) return null;
  const a = node.attributes ?? {};
  const helm = obj(a.helm);
  const argocd = obj(a.argocd);
  const gitops = obj(a.gitops);
  const vault = obj(a.vault);
  const kind = str(a.kind);
  return {
    name: node.name,
    environment: node.environment,
    namespace: str(a.namespace),
    cluster: str(a.cluster),
    account: str(a.account),
    kind: kind === "deployment" || kind === "statefulset" || kind === "daemonset" ? kind : undefined,
    workload: str(a.workload),
    replicas: int(a.replicas),
    helm: helm
      ? { release: str(helm.release), chart: str(helm.chart), revision: int(helm.revision), version: str(helm.version) }
      : undefined,
    argocd: argocd
      ? { app: str(argocd.app), revision: str(argocd.revision), history_id: int(argocd.history_id) }
      : undefined,
    gitops: gitops ? { repo: str(gitops.repo), base: str(gitops.base) } : undefined,
    vault: vault ? { mount: str(vault.mount), path: str(vault.path), version: int(vault.version) } : undefined,
  } as ServiceContext;
}

/**
 * `getContext` for the planner: the services of the request's environment
 * (all of them when it names none), the requested service first, with its
 * dependencies' edges. Null when the read model knows nothing.
 */
export function createContextReader(listServices: () => Promise<ContextService[]>) {
  return async (request: PlanRequest): Promise<PlanningContext | null> => {
    const nodes = await listServices();
    const inEnv = nodes.filter((n) => !request.environment || n.environment === request.environment);
    if (inEnv.length === 0) return null;
    const services = inEnv
      .map((n) => ({ node: n, ctx: toServiceContext(n) }))
      .filter((x): x is { node: ContextService; ctx: ServiceContext } => x.ctx !== null)
      .sort((x, y) => Number(y.node.name === request.service) - Number(x.node.name === request.service))
      .slice(0, 50);
    return {
      ref: `context_nodes@${
        inEnv
          .map((n) => String(n.updated_at))
          .sort()
          .at(-1) ?? ""
      }`,
      services: services.map((s) => s.ctx),
      edges: services.flatMap((s) => s.node.edges.map((e) => ({ from: s.node.name, kind: e.kind, to: e.to }))),
    };
  };
}

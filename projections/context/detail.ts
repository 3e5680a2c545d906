/**
 * One service of the graph as the API and the context service's `GetServiceGraph` show it: its
 * live replicas, images, chart and application, what it runs as, who deploys it (owners), what it
 * depends on, what observes it and what depends on it. Built from a service node with its
 * neighbours, whether they come from the read model or from the context service's memory.
 */
import type { ContextNeighbour, ContextServiceDetail } from "./queries.ts";

interface Neighbour {
  readonly node_id: string;
  readonly kind: string;
  readonly name: string;
  readonly environment: string | null;
  readonly attributes: Record<string, unknown>;
}

export interface ServiceDetail {
  readonly node_id: string;
  readonly name: string;
  readonly environment: string | null;
  readonly namespace: string | null;
  readonly replicas: { readonly desired: number | null; readonly ready: number | null };
  readonly images: string[];
  readonly chart: Record<string, unknown> | null;
  readonly application: Record<string, unknown> | null;
  readonly hpa: Record<string, unknown> | null;
  /** Releases and applications that deploy it. */
  readonly owners: Neighbour[];
  readonly workloads: Neighbour[];
  readonly depends_on: Neighbour[];
  readonly observed_by: Neighbour[];
  /** Services that depend on it. */
  readonly dependents: Neighbour[];
  readonly edges: { kind: string; to_node: string }[];
  readonly attributes: Record<string, unknown>;
  readonly updated_at: string | null;
}

const neighbour = (n: ContextNeighbour): Neighbour => ({
  node_id: n.node_id,
  kind: n.node_kind,
  name: n.name,
  environment: n.environment,
  attributes: n.attributes,
});

const num = (v: unknown) => (typeof v === "number" ? v : null);
const obj = (v: unknown) =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

export function toServiceDetail(s: ContextServiceDetail): ServiceDetail {
  const a = s.attributes;
  const out = (kind: string) => s.edges.filter((e) => e.kind === kind).map(neighbour);
  return {
    node_id: s.node_id,
    name: s.name,
    environment: s.environment,
    namespace: typeof a.namespace === "string" ? a.namespace : null,
    replicas: { desired: num(a.replicas), ready: num(a.ready_replicas) },
    images: Array.isArray(a.images) ? a.images.filter((i): i is string => typeof i === "string") : [],
    chart: obj(a.chart),
    application: obj(a.application),
    hpa: obj(a.hpa),
    owners: out("deployed_by"),
    workloads: out("runs_as"),
    depends_on: out("depends_on"),
    observed_by: out("observed_by"),
    dependents: s.incoming.filter((e) => e.kind === "depends_on").map(neighbour),
    edges: s.edges.map((e) => ({ kind: e.kind, to_node: e.node_id })),
    attributes: a,
    updated_at: s.updated_at ? new Date(s.updated_at).toISOString() : null,
  };
}

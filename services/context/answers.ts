/**
 * What the context service answers: a service with its neighbours from the graph as recorded
 * (`GetServiceGraph`), and how its sources are doing (the `context` entry of /readyz).
 */
import type { ContextSource } from "../../events/index.ts";
import { type ServiceDetail, toServiceDetail } from "../../projections/context/detail.ts";
import type { ContextNeighbour } from "../../projections/context/queries.ts";
import type { KnownNode } from "./graph/known.ts";
import type { RecordOutcome } from "./graph/record.ts";
import { type SourceHealth, worstOf } from "./sources/health.ts";
import { KUBE_KINDS } from "./sources/kube.ts";

export interface RefreshRequest {
  /** The source to read now; every source when absent. Kubernetes sources are watched, so they only rebuild. */
  readonly source?: ContextSource | "all" | undefined;
}

export interface RefreshResult {
  readonly source: ContextSource | "all";
  readonly recorded: RecordOutcome | null;
  readonly health: ContextHealth;
}

export interface ServiceGraphRequest {
  readonly name: string;
  readonly environment?: string | undefined;
}

/** Every service named `ref.name` (in `ref.environment` when given), as recorded, with its neighbours. */
export function serviceGraph(known: ReadonlyMap<string, KnownNode>, ref: ServiceGraphRequest): ServiceDetail[] {
  const neighbourOf = (kind: string, id: string): ContextNeighbour | null => {
    const n = known.get(id)?.state.node;
    return n
      ? {
          kind,
          node_id: n.node_id,
          node_kind: n.kind,
          name: n.name,
          environment: n.environment ?? null,
          attributes: n.attributes,
        }
      : null;
  };
  const out: ServiceDetail[] = [];
  for (const { state } of known.values()) {
    const node = state.node;
    if (node?.kind !== "service" || node.name !== ref.name) continue;
    if (ref.environment !== undefined && node.environment !== ref.environment) continue;
    const edges = [...state.edges.values()].map((e) => neighbourOf(e.kind, e.to_node)).filter((n) => n !== null);
    const incoming: ContextNeighbour[] = [];
    for (const other of known.values()) {
      for (const e of other.state.edges.values()) {
        if (e.to_node !== node.node_id) continue;
        const from = neighbourOf(e.kind, e.from_node);
        if (from) incoming.push(from);
      }
    }
    out.push(
      toServiceDetail({
        node_id: node.node_id,
        name: node.name,
        environment: node.environment ?? null,
        attributes: node.attributes,
        updated_at: "",
        edges,
        incoming,
      }),
    );
  }
  return out;
}

export type ContextStatus = "ok" | "degraded" | "starting" | "idle";

export interface ContextHealth {
  readonly status: ContextStatus;
  /** One line for /readyz's checks. */
  readonly summary: string;
  readonly sources: Partial<Record<ContextSource, SourceHealth & { kinds?: Record<string, SourceHealth> }>>;
  readonly last_pass: RecordOutcome | null;
}

export function contextHealth(input: {
  readonly configured: boolean;
  readonly started: boolean;
  readonly kube: Record<string, SourceHealth> | null;
  readonly aws: SourceHealth | null;
  readonly grafana: SourceHealth | null;
  readonly lastPass: RecordOutcome | null;
}): ContextHealth {
  if (!input.configured) {
    return {
      status: "idle",
      summary: "idle: no cluster configured (set context.kubeconfig or KUBECONFIG)",
      sources: {},
      last_pass: null,
    };
  }
  const sources: ContextHealth["sources"] = {};
  if (input.kube) {
    for (const source of ["kubernetes", "helm", "argocd"] as const) {
      const kinds = Object.fromEntries(
        KUBE_KINDS.filter((k) => k.source === source).map((k) => [k.key, input.kube?.[k.key] as SourceHealth]),
      );
      const worst = worstOf(Object.values(kinds));
      const notOk = Object.fromEntries(Object.entries(kinds).filter(([, h]) => h.status !== "ok"));
      sources[source] =
        Object.keys(notOk).length > 0 && Object.keys(kinds).length > 1 ? { ...worst, kinds: notOk } : worst;
    }
  }
  if (input.aws) sources.aws = input.aws;
  if (input.grafana) sources.grafana = input.grafana;
  const problems = Object.entries(sources)
    .filter(([, h]) => h.status !== "ok")
    .map(([name, h]) =>
      h.status === "error"
        ? `${name} error: ${h.error}`
        : h.status === "stale"
          ? `${name} stale (last answer ${h.age_seconds} s ago)`
          : `${name} ${h.status}`,
    );
  const status: ContextStatus = !input.started ? "starting" : problems.length > 0 ? "degraded" : "ok";
  return {
    status,
    summary: problems.length === 0 ? status : `${status}: ${problems.join("; ")}`,
    sources,
    last_pass: input.lastPass,
  };
}

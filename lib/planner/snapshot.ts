/**
 * The context snapshot a plan is made from: the service nodes of the graph the planner read (those
 * of the request's environment, or all of them when it names none) with their outgoing edges, and
 * a digest of exactly that. The planner keeps the snapshot as evidence and records its reference on
 * `plan.proposed`; policy rebuilds the snapshot of the same scope from its own read of the graph
 * and compares digests, so a change of the world between planning and deciding is seen and named.
 */
import { createHash } from "node:crypto";
import type { PlanContextRef } from "../../events/plan.ts";
import { canonicalize } from "../json/index.ts";
import { canonicalEnvironment } from "./intent.ts";

/** A service node as the context read model lists it, with its outgoing edges (`to` is a node id). */
export interface GraphService {
  readonly node_id: string;
  readonly name: string;
  readonly environment: string | null;
  readonly attributes: Record<string, unknown>;
  readonly edges: readonly { readonly kind: string; readonly to: string }[];
}

/** Which part of the graph a snapshot covers. */
export interface SnapshotScope {
  /** One environment's services; every service when absent. */
  readonly environment?: string | undefined;
}

export interface ContextSnapshot {
  readonly scope: SnapshotScope;
  readonly nodes: readonly {
    readonly node_id: string;
    readonly name: string;
    readonly environment: string | null;
    readonly attributes: Record<string, unknown>;
  }[];
  readonly edges: readonly { readonly from_node: string; readonly kind: string; readonly to_node: string }[];
  /** Hex SHA-256 of the RFC 8785 canonical JSON of `{ scope, nodes, edges }` (`snapshotBody`). */
  readonly digest: string;
  /** Where it was read (the read model's last update); not part of the digest. */
  readonly ref?: string | undefined;
}

/** The services a snapshot of `scope` covers (environments compared by their canonical names: prod is production). */
export function inScope<T extends Pick<GraphService, "environment">>(services: readonly T[], scope: SnapshotScope) {
  if (scope.environment === undefined) return [...services];
  const wanted = canonicalEnvironment(scope.environment);
  return services.filter((s) => s.environment !== null && canonicalEnvironment(s.environment) === wanted);
}

/**
 * The snapshot of `scope` in `services`: nodes and edges sorted by id, so that the same graph read
 * twice (by the planner, then by policy) has the same digest whatever order the rows came in.
 */
export function snapshotOf(
  services: readonly GraphService[],
  scope: SnapshotScope,
  ref?: string | undefined,
): ContextSnapshot {
  const covered = inScope(services, scope);
  const nodes = covered
    .map((s) => ({ node_id: s.node_id, name: s.name, environment: s.environment, attributes: s.attributes }))
    .sort((a, b) => compare(a.node_id, b.node_id));
  const edges = covered
    .flatMap((s) => s.edges.map((e) => ({ from_node: s.node_id, kind: e.kind, to_node: e.to })))
    .sort((a, b) => compare(a.from_node, b.from_node) || compare(a.kind, b.kind) || compare(a.to_node, b.to_node));
  const cleanScope = scope.environment === undefined ? {} : { environment: scope.environment };
  const digest = createHash("sha256")
    .update(snapshotBody({ scope: cleanScope, nodes, edges }))
    .digest("hex");
  return { scope: cleanScope, nodes, edges, digest, ...(ref === undefined ? {} : { ref }) };
}

/** The snapshot as stored: the canonical JSON its digest is taken of, so the blob's sha256 is the digest. */
export function snapshotBody(snapshot: Pick<ContextSnapshot, "scope" | "nodes" | "edges">): string {
  return canonicalize({ scope: snapshot.scope, nodes: snapshot.nodes, edges: snapshot.edges });
}

/** What `plan.proposed` records of a snapshot (the blob itself is evidence). */
export function snapshotRef(snapshot: ContextSnapshot, evidenceId?: string | undefined): PlanContextRef {
  return {
    digest: snapshot.digest,
    scope: snapshot.scope,
    nodes: snapshot.nodes.length,
    edges: snapshot.edges.length,
    ...(evidenceId === undefined ? {} : { evidence_id: evidenceId }),
    ...(snapshot.ref === undefined ? {} : { ref: snapshot.ref }),
  };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

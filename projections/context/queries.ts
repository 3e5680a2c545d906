/** Read queries on the context read model: the service graph. */
import { type Queryable, sql } from "../../lib/db/sql.ts";

export interface ContextService {
  node_id: string;
  name: string;
  environment: string | null;
  attributes: Record<string, unknown>;
  /** Outgoing edges: `{ kind, to }`, e.g. depends_on, runs_in. */
  edges: { kind: string; to: string }[];
  updated_at: string;
}

export async function listContextServices(db: Queryable): Promise<ContextService[]> {
  return (await db.any(
    sql.unsafe`SELECT n.node_id, n.name, n.environment, n.attributes, n.updated_at,
        COALESCE((SELECT jsonb_agg(jsonb_build_object('kind', e.kind, 'to', e.to_node) ORDER BY e.kind, e.to_node)
                  FROM context_edges e WHERE e.from_node = n.node_id), '[]'::jsonb) AS edges
      FROM context_nodes n WHERE n.kind = 'service' ORDER BY n.name, n.environment NULLS FIRST, n.node_id`,
  )) as unknown as ContextService[];
}

/** A node at the other end of an edge. */
export interface ContextNeighbour {
  kind: string;
  node_id: string;
  node_kind: string;
  name: string;
  environment: string | null;
  attributes: Record<string, unknown>;
}

/** A service with both directions of its edges: what it runs as, is deployed by, depends on, and what depends on it. */
export interface ContextServiceDetail extends Omit<ContextService, "edges"> {
  /** Outgoing edges with the node each leads to. */
  edges: ContextNeighbour[];
  /** Incoming edges (`depends_on` from other services) with the node each comes from. */
  incoming: ContextNeighbour[];
}

/** Every service node named `name` (one per environment), with its neighbours; empty when there is none. */
export async function getContextServices(
  db: Queryable,
  name: string,
  environment?: string | undefined,
): Promise<ContextServiceDetail[]> {
  return (await db.any(
    sql.unsafe`SELECT n.node_id, n.name, n.environment, n.attributes, n.updated_at,
        COALESCE((SELECT jsonb_agg(jsonb_build_object('kind', e.kind, 'node_id', m.node_id, 'node_kind', m.kind,
                    'name', m.name, 'environment', m.environment, 'attributes', m.attributes) ORDER BY e.kind, m.name, m.node_id)
                  FROM context_edges e JOIN context_nodes m ON m.node_id = e.to_node
                  WHERE e.from_node = n.node_id), '[]'::jsonb) AS edges,
        COALESCE((SELECT jsonb_agg(jsonb_build_object('kind', e.kind, 'node_id', m.node_id, 'node_kind', m.kind,
                    'name', m.name, 'environment', m.environment, 'attributes', m.attributes) ORDER BY e.kind, m.name, m.node_id)
                  FROM context_edges e JOIN context_nodes m ON m.node_id = e.from_node
                  WHERE e.to_node = n.node_id), '[]'::jsonb) AS incoming
      FROM context_nodes n
      WHERE n.kind = 'service' AND n.name = ${name}
        AND (${environment ?? null}::text IS NULL OR n.environment = ${environment ?? null}::text)
      ORDER BY n.environment NULLS FIRST, n.node_id`,
  )) as unknown as ContextServiceDetail[];
}

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

/** The service graph as a pure fold over context events. */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import type { ContextEdgeRow, ContextNodeRow } from "./rows.ts";

export const CONTEXT_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  "context.node_upserted",
  "context.node_removed",
  "context.edge_upserted",
]);

/** Changes from one batch: rows to write, nodes removed (with their edges). */
export interface GraphChanges {
  readonly nodes: Map<string, ContextNodeRow | null>;
  readonly edges: Map<string, ContextEdgeRow | null>;
  readonly removed: Set<string>;
}

export const edgeKey = (e: { from_node: string; to_node: string; kind: string }) =>
  `${e.from_node}\u0000${e.to_node}\u0000${e.kind}`;

export function emptyChanges(): GraphChanges {
  return { nodes: new Map(), edges: new Map(), removed: new Set() };
}

/** Folds one event into the batch's changes (mutates and returns `changes`, which the caller owns). */
export function evolveGraph(changes: GraphChanges, event: AnyRecordedEvent): GraphChanges {
  switch (event.type) {
    case "context.node_upserted": {
      const p = event.payload;
      changes.nodes.set(p.node_id, {
        node_id: p.node_id,
        kind: p.kind,
        name: p.name,
        environment: p.environment ?? null,
        attributes: p.attributes,
        updated_at: event.occurred_at,
        last_seq: event.seq,
      });
      return changes;
    }
    case "context.node_removed": {
      const id = event.payload.node_id;
      changes.nodes.set(id, null);
      changes.removed.add(id);
      for (const [k, edge] of changes.edges) {
        if (edge && (edge.from_node === id || edge.to_node === id)) changes.edges.set(k, null);
      }
      return changes;
    }
    case "context.edge_upserted": {
      const p = event.payload;
      changes.edges.set(edgeKey(p), {
        from_node: p.from_node,
        to_node: p.to_node,
        kind: p.kind,
        updated_at: event.occurred_at,
        last_seq: event.seq,
      });
      return changes;
    }
    default:
      return changes;
  }
}

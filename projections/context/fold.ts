/** The service graph as a pure fold over context events. */
import type { AnyRecordedEvent, EventType } from "../../events/index.ts";
import { type EventHandlers, handlerTable } from "../handlers.ts";
import type { ContextEdgeRow, ContextNodeRow } from "./rows.ts";

/** Every event of the context aggregate. */
export type ContextEventType = Extract<EventType, `context.${string}`>;

/** Changes from one batch: rows to write (null: delete the row), nodes removed (with their edges). */
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

const contextHandlers = {
  "context.node_upserted": (changes, event) => {
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
  },
  "context.node_removed": (changes, event) => {
    const id = event.payload.node_id;
    changes.nodes.set(id, null);
    changes.removed.add(id);
    for (const [k, edge] of changes.edges) {
      if (edge && (edge.from_node === id || edge.to_node === id)) changes.edges.set(k, null);
    }
  },
  "context.edge_upserted": (changes, event) => {
    const p = event.payload;
    changes.edges.set(edgeKey(p), {
      from_node: p.from_node,
      to_node: p.to_node,
      kind: p.kind,
      updated_at: event.occurred_at,
      last_seq: event.seq,
    });
  },
  // A null edge is deleted by the writer; a later upsert in the same batch replaces the null.
  "context.edge_removed": (changes, event) => {
    changes.edges.set(edgeKey(event.payload), null);
  },
} satisfies EventHandlers<ContextEventType, GraphChanges>;

const context = handlerTable<ContextEventType, GraphChanges>(contextHandlers);

/** The event types the context read model folds: its handlers' keys. */
export const CONTEXT_EVENT_TYPES: ReadonlySet<EventType> = context.types;

/** Folds one event into the batch's changes (mutates and returns `changes`, which the caller owns). */
export function evolveGraph(changes: GraphChanges, event: AnyRecordedEvent): GraphChanges {
  if (context.handles(event)) context.apply(changes, event);
  return changes;
}

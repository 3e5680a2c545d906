/**
 * One node of the service graph as an aggregate: its events fold into the node as last recorded
 * and the edges that leave it; `decideNode` turns the node the sources see now into the events
 * that make the recorded one equal to it, and into none when nothing changed. So a resync, a
 * relist or a poll that finds the world as it was records nothing.
 */
import type { AnyEvent, AnyRecordedEvent, ContextEdge, ContextNode } from "../../../events/index.ts";
import { type Actor, newEvent } from "../../../events/index.ts";
import type { Aggregate } from "../../../lib/eventstore/index.ts";
import { canonicalize } from "../../../lib/json/index.ts";

export const CONTEXT_ACTOR: Actor = { kind: "service", id: "context", roles: [] };

export interface NodeState {
  readonly node: ContextNode | null;
  /** Outgoing edges by `kind\0to_node`. */
  readonly edges: ReadonlyMap<string, ContextEdge>;
  /**
   * The node as compared: `JSON.stringify` of the node last built or recorded (a cheap first check,
   * since the builder writes keys in one order) and its RFC 8785 form (the check that decides).
   */
  readonly json: string | null;
  readonly canonical: string | null;
}

export const initialNodeState: NodeState = { node: null, edges: new Map(), json: null, canonical: null };

const edgeKey = (e: ContextEdge) => `${e.kind}\u0000${e.to_node}`;

export function evolveNode(state: NodeState, event: AnyRecordedEvent | AnyEvent): NodeState {
  switch (event.type) {
    case "context.node_upserted":
      return {
        ...state,
        node: event.payload,
        json: JSON.stringify(event.payload),
        canonical: canonicalize(event.payload),
      };
    case "context.node_removed":
      // The read model drops a removed node's edges; so does the aggregate.
      return initialNodeState;
    case "context.edge_upserted": {
      const edges = new Map(state.edges);
      edges.set(edgeKey(event.payload), event.payload);
      return { ...state, edges };
    }
    case "context.edge_removed": {
      const edges = new Map(state.edges);
      edges.delete(edgeKey(event.payload));
      return { ...state, edges };
    }
    default:
      return state;
  }
}

/** The context node aggregate, for the event store's command path. */
export const contextNodeAggregate: Aggregate<NodeState> = {
  type: "context",
  evolve: evolveNode,
  initialState: initialNodeState,
};

/** What the sources say a node is now: null when no source sees it any more. */
export interface DesiredNode {
  readonly node: ContextNode | null;
  readonly edges: readonly ContextEdge[];
}

/** Whether `node` is the node `state` holds (the cheap check first). */
export function sameNode(state: NodeState, node: ContextNode, json = JSON.stringify(node)): boolean {
  if (state.node === null) return false;
  if (state.json === json) return true;
  return state.canonical === canonicalize(node);
}

export interface DecideMeta {
  readonly correlationId: string;
  readonly now: string;
}

/** The events that bring the recorded node to `desired`; none when they already agree. */
export function decideNode(state: NodeState, desired: DesiredNode, meta: DecideMeta): AnyEvent[] {
  const m = { actor: CONTEXT_ACTOR, correlation_id: meta.correlationId, occurred_at: meta.now };
  const id = desired.node?.node_id ?? state.node?.node_id;
  if (id === undefined) return [];
  if (desired.node === null)
    return state.node === null ? [] : [newEvent("context.node_removed", id, { node_id: id }, m)];
  const out: AnyEvent[] = [];
  if (!sameNode(state, desired.node)) out.push(newEvent("context.node_upserted", id, desired.node, m));
  const wanted = new Map(desired.edges.map((e) => [edgeKey(e), e]));
  for (const [key, edge] of wanted) if (!state.edges.has(key)) out.push(newEvent("context.edge_upserted", id, edge, m));
  for (const [key, edge] of state.edges) if (!wanted.has(key)) out.push(newEvent("context.edge_removed", id, edge, m));
  return out;
}

/** A state that compared equal keeps the newer JSON form, so the next check is the cheap one. */
export function withJson(state: NodeState, node: ContextNode | null): NodeState {
  return node === null || state.node === null ? state : { ...state, json: JSON.stringify(node) };
}

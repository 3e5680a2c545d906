/**
 * Rows of the context (`context_nodes`, `context_edges`) read model, snake_case as in the tables and the API.
 * Timestamps are ISO 8601 strings, bigints are numbers (stream sequences
 * stay below 2^53).
 */

export interface ContextNodeRow {
  node_id: string;
  kind: string;
  name: string;
  environment: string | null;
  attributes: Record<string, unknown>;
  updated_at: string;
  last_seq: number;
}

export interface ContextEdgeRow {
  from_node: string;
  to_node: string;
  kind: string;
  updated_at: string;
  last_seq: number;
}

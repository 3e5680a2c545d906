/** Read model `context_nodes` + `context_edges`: the service graph the planner reads. */
import { type Statement, type TableSpec, upsertStatement } from "../../lib/db/sql.ts";
import type { Projection, ProjectionWriter } from "../types.ts";
import { CONTEXT_EVENT_TYPES, emptyChanges, evolveGraph } from "./fold.ts";
import type { ContextEdgeRow, ContextNodeRow } from "./rows.ts";

export { CONTEXT_EVENT_TYPES, emptyChanges, evolveGraph, type GraphChanges } from "./fold.ts";
export * from "./queries.ts";
export type * from "./rows.ts";

export const contextNodesTable: TableSpec<ContextNodeRow> = {
  table: "context_nodes",
  key: ["node_id"],
  columns: {
    node_id: "text",
    kind: "text",
    name: "text",
    environment: "text",
    attributes: "jsonb",
    updated_at: "timestamptz",
    last_seq: "int8",
  },
};

export const contextEdgesTable: TableSpec<ContextEdgeRow> = {
  table: "context_edges",
  key: ["from_node", "to_node", "kind"],
  columns: { from_node: "text", to_node: "text", kind: "text", updated_at: "timestamptz", last_seq: "int8" },
};

/** The context writer: the batch's graph changes as statements, nothing held between batches. */
export function createContextWriter(): ProjectionWriter {
  return {
    reset() {},
    async prepare(_db, events) {
      const changes = emptyChanges();
      for (const e of events) evolveGraph(changes, e);
      const out: (Statement | null)[] = [];
      if (changes.removed.size > 0) {
        const ids = [...changes.removed];
        out.push({
          text: "DELETE FROM context_edges WHERE from_node = ANY($1::text[]) OR to_node = ANY($1::text[])",
          values: [ids],
        });
        out.push({ text: "DELETE FROM context_nodes WHERE node_id = ANY($1::text[])", values: [ids] });
      }
      const goneEdges = [...changes.edges.entries()].filter(([, e]) => e === null).map(([k]) => k.split("\u0000"));
      if (goneEdges.length > 0) {
        out.push({
          text: `DELETE FROM context_edges e USING unnest($1::text[], $2::text[], $3::text[]) AS g(from_node, to_node, kind)
                 WHERE e.from_node = g.from_node AND e.to_node = g.to_node AND e.kind = g.kind`,
          values: [goneEdges.map((g) => g[0]), goneEdges.map((g) => g[1]), goneEdges.map((g) => g[2])],
        });
      }
      out.push(
        upsertStatement(
          contextNodesTable,
          [...changes.nodes.values()].filter((n) => n !== null),
        ),
      );
      out.push(
        upsertStatement(
          contextEdgesTable,
          [...changes.edges.values()].filter((e) => e !== null),
        ),
      );
      return out.filter((s): s is Statement => s !== null);
    },
  };
}

export const contextProjection: Projection = {
  name: "context",
  tables: ["context_edges", "context_nodes"],
  handles: CONTEXT_EVENT_TYPES,
  createWriter: createContextWriter,
};

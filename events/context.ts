/**
 * The service graph, fed by the context service's watchers and pollers. One aggregate instance per
 * node (`<prefix>.evt.context.<node_id>`): its own upserts and removal, and the edges that leave it.
 * A node's upsert carries its whole state (attributes replace the previous ones), so the last
 * upsert is the node. Events are appended only when something changed.
 *
 * Compatibility: every field and option added since version 1 is optional or a new picklist
 * option, so events recorded before still decode as they are (no upcaster, version 1).
 */
import * as v from "valibot";

/** What a node is. The first seven are what the context service records today; the rest are older kinds still read. */
export const ContextNodeKindSchema = v.picklist([
  "service",
  "workload",
  "release",
  "application",
  "cloud_resource",
  "datasource",
  "namespace",
  // Recorded before the context service existed (the demo seed), still decoded.
  "deployment",
  "cluster",
  "account",
]);
export type ContextNodeKind = v.InferOutput<typeof ContextNodeKindSchema>;

/** Where a node's facts come from. */
export const ContextSourceSchema = v.picklist(["kubernetes", "helm", "argocd", "aws", "grafana"]);
export type ContextSource = v.InferOutput<typeof ContextSourceSchema>;

export const ContextNodeSchema = v.object({
  node_id: v.string(),
  kind: ContextNodeKindSchema,
  name: v.string(),
  environment: v.optional(v.string()),
  attributes: v.optional(v.record(v.string(), v.unknown()), {}),
  /** Added compatibly: the source that observed the node (absent on seeded nodes). */
  source: v.optional(ContextSourceSchema),
});
export type ContextNode = v.InferOutput<typeof ContextNodeSchema>;

/**
 * `runs_as` service → workload, `deployed_by` service → release or application, `depends_on`
 * service → service or cloud resource, `observed_by` service → datasource. `runs_in` and `owns`
 * are older kinds still read.
 */
export const ContextEdgeKindSchema = v.picklist([
  "runs_as",
  "deployed_by",
  "depends_on",
  "observed_by",
  "runs_in",
  "owns",
]);
export type ContextEdgeKind = v.InferOutput<typeof ContextEdgeKindSchema>;

export const ContextEdgeSchema = v.object({
  from_node: v.string(),
  to_node: v.string(),
  kind: ContextEdgeKindSchema,
});
export type ContextEdge = v.InferOutput<typeof ContextEdgeSchema>;

export const contextEvents = {
  "context.node_upserted": { aggregate: "context", version: 1, schema: ContextNodeSchema },
  "context.node_removed": { aggregate: "context", version: 1, schema: v.object({ node_id: v.string() }) },
  "context.edge_upserted": { aggregate: "context", version: 1, schema: ContextEdgeSchema },
  /** An edge that no longer holds; recorded on its `from_node`'s aggregate. */
  "context.edge_removed": { aggregate: "context", version: 1, schema: ContextEdgeSchema },
} as const;

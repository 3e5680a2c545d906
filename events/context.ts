/** The service graph, fed by pollers and watchers. */
import * as v from "valibot";

export const ContextNodeSchema = v.object({
  node_id: v.string(),
  kind: v.picklist(["service", "deployment", "namespace", "cluster", "application", "release", "account"]),
  name: v.string(),
  environment: v.optional(v.string()),
  attributes: v.optional(v.record(v.string(), v.unknown()), {}),
});

export const ContextEdgeSchema = v.object({
  from_node: v.string(),
  to_node: v.string(),
  kind: v.picklist(["runs_in", "depends_on", "deployed_by", "owns"]),
});

export const contextEvents = {
  "context.node_upserted": { aggregate: "context", version: 1, schema: ContextNodeSchema },
  "context.node_removed": { aggregate: "context", version: 1, schema: v.object({ node_id: v.string() }) },
  "context.edge_upserted": { aggregate: "context", version: 1, schema: ContextEdgeSchema },
} as const;

/** `/v1/context/services`: the service graph as the context service last saw it. */
import * as v from "valibot";
import { CursorSchema, LimitSchema, pageSchema } from "./common.ts";

export const ContextServicesQuerySchema = v.strictObject({
  environment: v.optional(v.string()),
  cursor: CursorSchema,
  limit: LimitSchema,
});

export const ServiceViewSchema = v.object({
  node_id: v.string(),
  name: v.string(),
  environment: v.nullable(v.string()),
  attributes: v.record(v.string(), v.unknown()),
  edges: v.array(v.object({ kind: v.string(), to_node: v.string() })),
  updated_at: v.nullable(v.string()),
});

export const ServicePageSchema = pageSchema(ServiceViewSchema);

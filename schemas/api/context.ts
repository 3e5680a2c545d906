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

/** A service name as Kubernetes names it (`app.kubernetes.io/name`, else the object's name). */
export const ServiceNameParamsSchema = v.strictObject({
  name: v.pipe(
    v.string(),
    v.regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, "must be a service name: lowercase letters, digits, '-' and '.'"),
  ),
});

export const ServiceQuerySchema = v.strictObject({
  /** Which one, when the service runs in several environments. */
  environment: v.optional(v.string()),
});

/** A node at the other end of one of the service's edges. */
export const ServiceNeighbourSchema = v.object({
  node_id: v.string(),
  kind: v.string(),
  name: v.string(),
  environment: v.nullable(v.string()),
  attributes: v.record(v.string(), v.unknown()),
});

export const ServiceDetailSchema = v.object({
  node_id: v.string(),
  name: v.string(),
  environment: v.nullable(v.string()),
  namespace: v.nullable(v.string()),
  /** Live replicas of its workloads: desired (spec) and ready (status). */
  replicas: v.object({ desired: v.nullable(v.number()), ready: v.nullable(v.number()) }),
  images: v.array(v.string()),
  /** The Helm release that deploys it: release, chart name and version, revision, status. */
  chart: v.nullable(v.record(v.string(), v.unknown())),
  /** The Argo CD application that deploys it: name, sync status, health, revision. */
  application: v.nullable(v.record(v.string(), v.unknown())),
  hpa: v.nullable(v.record(v.string(), v.unknown())),
  /** Helm releases and Argo CD applications that deploy it (`deployed_by`). */
  owners: v.array(ServiceNeighbourSchema),
  /** Deployments, StatefulSets and DaemonSets it runs as (`runs_as`). */
  workloads: v.array(ServiceNeighbourSchema),
  /** Services and cloud resources it depends on. */
  depends_on: v.array(ServiceNeighbourSchema),
  /** Datasources that observe it. */
  observed_by: v.array(ServiceNeighbourSchema),
  /** Services that depend on it (its blast radius). */
  dependents: v.array(ServiceNeighbourSchema),
  edges: v.array(v.object({ kind: v.string(), to_node: v.string() })),
  attributes: v.record(v.string(), v.unknown()),
  updated_at: v.nullable(v.string()),
});

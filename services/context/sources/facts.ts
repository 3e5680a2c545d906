/**
 * What the context service keeps of each Kubernetes object it watches: a few checked fields, never
 * the whole object (the facts' shapes: ../facts.ts). A malformed object (no
 * name, a field of the wrong type) is refused with a `MalformedObjectError` naming the object and
 * the field, so that the caller logs it and counts it in the source's health instead of feeding it
 * to the graph.
 */
import type { HpaFact, NamespaceFact, ObjectMeta, PodFact, ServiceFact, WorkloadFact, WorkloadKind } from "../facts.ts";

/** The raw object as the API server (or the watch) sent it. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
    readonly ownerReferences?: readonly { readonly kind?: string; readonly name?: string }[];
  };
  readonly [field: string]: unknown;
}

export class MalformedObjectError extends Error {
  constructor(
    readonly object: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${object}: ${field} ${problem}`);
    this.name = "MalformedObjectError";
  }
}

const describe = (kind: string, o: KubeObject) =>
  `${kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name ?? "(unnamed)"}`;

function stringMap(o: KubeObject, what: string, field: "labels" | "annotations"): Record<string, string> {
  const map = o.metadata?.[field];
  if (map === undefined || map === null) return {};
  if (typeof map !== "object" || Array.isArray(map))
    throw new MalformedObjectError(what, `metadata.${field}`, "is not a map");
  return map;
}

/** Name, namespace, labels and annotations, checked. */
export function metaOf(kind: string, o: KubeObject, namespaced = true): ObjectMeta {
  const what = describe(kind, o);
  if (typeof o !== "object" || o === null) throw new MalformedObjectError(kind, "(object)", "is not an object");
  const name = o.metadata?.name;
  if (typeof name !== "string" || name === "") throw new MalformedObjectError(what, "metadata.name", "is missing");
  const namespace = o.metadata?.namespace ?? "";
  if (namespaced && (typeof namespace !== "string" || namespace === "")) {
    throw new MalformedObjectError(what, "metadata.namespace", "is missing");
  }
  return { namespace, name, labels: stringMap(o, what, "labels"), annotations: stringMap(o, what, "annotations") };
}

function record(value: unknown, what: string, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new MalformedObjectError(what, field, "is not an object");
  return value as Record<string, unknown>;
}

function count(value: unknown, what: string, field: string, fallback = 0): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new MalformedObjectError(what, field, `is not a count (${JSON.stringify(value)})`);
  }
  return value;
}

function imagesOf(spec: Record<string, unknown>, what: string): string[] {
  const template = record(spec.template, what, "spec.template");
  const podSpec = record(template.spec, what, "spec.template.spec");
  const containers = podSpec.containers ?? [];
  if (!Array.isArray(containers))
    throw new MalformedObjectError(what, "spec.template.spec.containers", "is not a list");
  return [
    ...new Set(
      containers.map((c: { image?: unknown }) => (typeof c?.image === "string" ? c.image : "")).filter(Boolean),
    ),
  ].sort();
}

export function workloadFact(kind: WorkloadKind, o: KubeObject): WorkloadFact {
  const meta = metaOf(kind, o);
  const what = describe(kind, o);
  const spec = record(o.spec, what, "spec");
  const status = record(o.status, what, "status");
  if (kind === "DaemonSet") {
    return {
      ...meta,
      kind,
      replicas: count(status.desiredNumberScheduled, what, "status.desiredNumberScheduled"),
      readyReplicas: count(status.numberReady, what, "status.numberReady"),
      updatedReplicas: count(status.updatedNumberScheduled, what, "status.updatedNumberScheduled"),
      images: imagesOf(spec, what),
    };
  }
  return {
    ...meta,
    kind,
    replicas: count(spec.replicas, what, "spec.replicas", 1),
    readyReplicas: count(status.readyReplicas, what, "status.readyReplicas"),
    updatedReplicas: count(status.updatedReplicas, what, "status.updatedReplicas"),
    images: imagesOf(spec, what),
  };
}

export function serviceFact(o: KubeObject): ServiceFact {
  const meta = metaOf("Service", o);
  const spec = record(o.spec, describe("Service", o), "spec");
  return { ...meta, type: typeof spec.type === "string" ? spec.type : "ClusterIP" };
}

export function hpaFact(o: KubeObject): HpaFact {
  const what = describe("HorizontalPodAutoscaler", o);
  const meta = metaOf("HorizontalPodAutoscaler", o);
  const spec = record(o.spec, what, "spec");
  const status = record(o.status, what, "status");
  const ref = record(spec.scaleTargetRef, what, "spec.scaleTargetRef");
  if (typeof ref.kind !== "string" || typeof ref.name !== "string") {
    throw new MalformedObjectError(what, "spec.scaleTargetRef", "does not name a kind and a name");
  }
  return {
    ...meta,
    target: { kind: ref.kind, name: ref.name },
    minReplicas: count(spec.minReplicas, what, "spec.minReplicas", 1),
    maxReplicas: count(spec.maxReplicas, what, "spec.maxReplicas"),
    currentReplicas:
      status.currentReplicas === undefined ? null : count(status.currentReplicas, what, "status.currentReplicas"),
    desiredReplicas:
      status.desiredReplicas === undefined ? null : count(status.desiredReplicas, what, "status.desiredReplicas"),
  };
}

export function podFact(o: KubeObject): PodFact {
  const what = describe("Pod", o);
  const { namespace, name, labels } = metaOf("Pod", o);
  const status = record(o.status, what, "status");
  const conditions = Array.isArray(status.conditions)
    ? (status.conditions as { type?: unknown; status?: unknown }[])
    : [];
  const ready = conditions.some((c) => c?.type === "Ready" && c?.status === "True");
  const refs = o.metadata?.ownerReferences;
  const ref = Array.isArray(refs)
    ? refs.find((r) => typeof r?.kind === "string" && typeof r?.name === "string")
    : undefined;
  let owner: PodFact["owner"] = null;
  if (ref?.kind === "ReplicaSet" && ref.name) {
    // A Deployment's ReplicaSet is `<deployment>-<pod-template-hash>`: the pod names its Deployment without a ReplicaSet watch.
    const hash = labels["pod-template-hash"];
    if (hash && ref.name.endsWith(`-${hash}`))
      owner = { kind: "Deployment", name: ref.name.slice(0, -hash.length - 1) };
  } else if ((ref?.kind === "StatefulSet" || ref?.kind === "DaemonSet") && ref.name) {
    owner = { kind: ref.kind, name: ref.name };
  }
  return { namespace, name, owner, ready, phase: typeof status.phase === "string" ? status.phase : "Unknown" };
}

export function namespaceFact(o: KubeObject): NamespaceFact {
  const { name, labels, annotations } = metaOf("Namespace", o, false);
  return { name, labels, annotations };
}

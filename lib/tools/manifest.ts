/**
 * Manifests `kubectl.apply` takes from an artifact: what they may hold, checked after the
 * artifact's sha256 and before any argv is built, and the manifest that puts objects back the
 * way they were live (the apply's rollback).
 *
 * Policy judges an apply by its input's namespace, so the manifest may not reach beyond it: every
 * object is of a namespaced kind in the list below, with the API group that kind has in
 * Kubernetes (a custom resource cannot pass for a Deployment), and sits in the input's namespace.
 * Secrets are refused (their values would land in diffs, evidence and rollback artifacts), as are
 * RBAC objects and anything cluster-scoped.
 */
import { parseAllDocuments } from "yaml";
import { ValidationError } from "../errors/index.ts";

/** Kind → the apiVersions it is served under. */
export const APPLY_KINDS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ["apps/v1"],
  StatefulSet: ["apps/v1"],
  DaemonSet: ["apps/v1"],
  Service: ["v1"],
  ConfigMap: ["v1"],
  ServiceAccount: ["v1"],
  Ingress: ["networking.k8s.io/v1"],
  Job: ["batch/v1"],
  CronJob: ["batch/v1"],
  HorizontalPodAutoscaler: ["autoscaling/v2", "autoscaling/v1"],
  PodDisruptionBudget: ["policy/v1"],
};

const MAX_OBJECTS = 100;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** One object of a manifest, as far as the checks read it. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses a manifest (YAML or JSON, one or more documents, `List`s expanded) and checks every
 * object against the rules above. Returns the objects; throws a `ValidationError` on
 * `input.manifest_ref` naming the first object at fault and the fix.
 */
export function checkManifest(text: string, namespace: string): ManifestObject[] {
  const refuse = (problem: string, fix: string): never => {
    throw new ValidationError(`manifest_ref: ${problem}`, { field: "input.manifest_ref", fix });
  };
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return refuse("is empty", "name a manifest with at least one object");
  const raw: unknown[] = [];
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) {
      refuse(`document ${i + 1} is not valid YAML: ${doc.errors[0]?.message}`, "fix the manifest's syntax");
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (isObject(value) && value.kind === "List" && Array.isArray(value.items)) raw.push(...value.items);
    else raw.push(value);
  }
  if (raw.length === 0) refuse("holds no object", "name a manifest with at least one object");
  if (raw.length > MAX_OBJECTS) refuse(`holds ${raw.length} objects`, `apply at most ${MAX_OBJECTS} per step`);
  return raw.map((value, i) => {
    const at = `object ${i + 1}`;
    if (!isObject(value)) return refuse(`${at} is not a mapping`, "give each document apiVersion, kind and metadata");
    const { apiVersion, kind } = value;
    const metadata = isObject(value.metadata) ? value.metadata : {};
    const name = metadata.name;
    if (typeof kind !== "string" || typeof apiVersion !== "string") {
      return refuse(`${at} lacks apiVersion or kind`, "give each object its apiVersion and kind");
    }
    if (typeof name !== "string" || !DNS_SUBDOMAIN.test(name)) {
      return refuse(`${at} (${kind}) has no valid metadata.name`, "name each object (generateName is not applied)");
    }
    const versions = APPLY_KINDS[kind];
    if (versions === undefined) {
      return refuse(
        `${kind} ${name} is not a kind kubectl.apply applies`,
        `apply only ${Object.keys(APPLY_KINDS).join(", ")}; Secrets, RBAC and cluster-scoped objects go through their own reviewed path`,
      );
    }
    if (!versions.includes(apiVersion)) {
      return refuse(`${kind} ${name} has apiVersion ${apiVersion}`, `use ${versions.join(" or ")} for a ${kind}`);
    }
    if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
      return refuse(
        `${kind} ${name} is in namespace ${String(metadata.namespace)}, the step applies to ${namespace}`,
        "apply each namespace's objects in a step of its own, or drop metadata.namespace",
      );
    }
    return { apiVersion, kind, name };
  });
}

/** Fields the server owns or that describe one moment of an object, never re-applied. */
const SERVER_METADATA = ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"];
const SERVER_ANNOTATIONS = ["kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"];

/**
 * The manifest that re-applies objects as they were live (`kubectl get -o json` of them, a List
 * or one object): status and server-owned metadata dropped, everything else kept, so that a
 * server-side apply of it with the same field manager puts every field back.
 */
export function restoringManifest(live: unknown): { apiVersion: "v1"; kind: "List"; items: Json[] } {
  const objects = isObject(live) && Array.isArray(live.items) ? live.items : isObject(live) ? [live] : [];
  const items = objects.filter(isObject).map((object) => {
    const { status: _status, metadata, ...rest } = object;
    const meta: Json = { ...(isObject(metadata) ? metadata : {}) };
    for (const key of SERVER_METADATA) delete meta[key];
    if (isObject(meta.annotations)) {
      const annotations = { ...meta.annotations };
      for (const key of SERVER_ANNOTATIONS) delete annotations[key];
      if (Object.keys(annotations).length === 0) delete meta.annotations;
      else meta.annotations = annotations;
    }
    return { ...rest, metadata: meta };
  });
  return { apiVersion: "v1", kind: "List", items };
}

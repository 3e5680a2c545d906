/**
 * Argo CD applications read as the cluster holds them: `argoproj.io/v1alpha1` Application objects
 * (the Argo CD controller writes their status), through the same list-watch as every other kind.
 * Argo CD marks what it deploys with the tracking label `argocd.argoproj.io/instance`: the
 * application's name, or `<namespace>_<name>` for applications outside Argo CD's own namespace
 * (the graph joins by it: ../facts.ts).
 */
import type { ApplicationFact } from "../facts.ts";
import { type KubeObject, MalformedObjectError, metaOf } from "./facts.ts";

export const ARGOCD_GROUP = "argoproj.io";
export const ARGOCD_VERSION = "v1alpha1";

function optionalString(value: unknown, what: string, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string")
    throw new MalformedObjectError(what, field, `is not a string (${JSON.stringify(value)})`);
  return value;
}

function section(value: unknown, what: string, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new MalformedObjectError(what, field, "is not an object");
  return value as Record<string, unknown>;
}

export function applicationFact(o: KubeObject): ApplicationFact {
  const { namespace, name } = metaOf("Application", o);
  const what = `Application ${namespace}/${name}`;
  const spec = section(o.spec, what, "spec");
  const status = section(o.status, what, "status");
  const sync = section(status.sync, what, "status.sync");
  const health = section(status.health, what, "status.health");
  const destination = section(spec.destination, what, "spec.destination");
  // Multi-source applications list `sources`; the first one stands for the application.
  const sources = Array.isArray(spec.sources) ? spec.sources : [];
  const source = section(spec.source ?? sources[0], what, spec.source ? "spec.source" : "spec.sources[0]");
  return {
    namespace,
    name,
    syncStatus: optionalString(sync.status, what, "status.sync.status") ?? "Unknown",
    health: optionalString(health.status, what, "status.health.status") ?? "Unknown",
    revision: optionalString(sync.revision, what, "status.sync.revision"),
    destination: {
      server: optionalString(destination.server, what, "spec.destination.server"),
      namespace: optionalString(destination.namespace, what, "spec.destination.namespace"),
    },
    source: {
      repoURL: optionalString(source.repoURL, what, "spec.source.repoURL"),
      path: optionalString(source.path, what, "spec.source.path"),
      chart: optionalString(source.chart, what, "spec.source.chart"),
      targetRevision: optionalString(source.targetRevision, what, "spec.source.targetRevision"),
    },
  };
}

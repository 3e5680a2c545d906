/**
 * What the service graph is built from: the facts each source keeps of what it sees (their shape,
 * not how a source reads them: that is sources/), and the labels and tags that join them. The
 * graph (graph/build.ts) is a pure function of these and the sources produce them, so they sit
 * below both folders and neither imports the other.
 */

export interface ObjectMeta {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export type WorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet";

export interface WorkloadFact extends ObjectMeta {
  readonly kind: WorkloadKind;
  /** Desired replicas (for a DaemonSet, the nodes it should run on). */
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly updatedReplicas: number;
  readonly images: readonly string[];
}

export interface ServiceFact extends ObjectMeta {
  readonly type: string;
}

export interface HpaFact extends ObjectMeta {
  readonly target: { readonly kind: string; readonly name: string };
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly currentReplicas: number | null;
  readonly desiredReplicas: number | null;
}

export interface PodFact {
  readonly namespace: string;
  readonly name: string;
  /** The workload that owns the pod (a Deployment through its ReplicaSet), or null for a bare pod. */
  readonly owner: { readonly kind: WorkloadKind; readonly name: string } | null;
  readonly ready: boolean;
  readonly phase: string;
}

export interface NamespaceFact {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Argo CD's tracking label: the application's name, or `<namespace>_<name>` outside Argo CD's own namespace. */
export const ARGOCD_TRACKING_LABEL = "argocd.argoproj.io/instance";

export interface ApplicationFact {
  readonly namespace: string;
  readonly name: string;
  readonly syncStatus: string;
  readonly health: string;
  /** The revision last synced (a commit or chart version), or null before the first sync. */
  readonly revision: string | null;
  readonly destination: { readonly server: string | null; readonly namespace: string | null };
  readonly source: {
    readonly repoURL: string | null;
    readonly path: string | null;
    readonly chart: string | null;
    readonly targetRevision: string | null;
  };
}

export interface HelmReleaseFact {
  readonly namespace: string;
  readonly name: string;
  readonly revision: number;
  readonly status: string;
  readonly chart: string;
  readonly chartVersion: string;
  readonly appVersion: string | null;
  /** `sha256:` of the canonical JSON of the user-supplied values. */
  readonly valuesDigest: string;
}

export interface CloudResourceFact {
  readonly arn: string;
  /** From the ARN: `rds`, `s3`, `elasticache`, ... */
  readonly service: string;
  /** From the ARN's resource part: `db`, `cluster`, `bucket` (S3 has none), ... */
  readonly resourceType: string | null;
  readonly region: string | null;
  readonly account: string | null;
  /** The `Name` tag, else the resource id from the ARN. */
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface DatasourceFact {
  readonly uid: string;
  readonly name: string;
  readonly type: string;
  /** Without user info: a URL with a password in it keeps only scheme, host and path. */
  readonly url: string | null;
  readonly isDefault: boolean;
}

/** Tags that join a cloud resource to a service: the service's name, and optionally its environment or namespace. */
export const SERVICE_TAG = "wheelhouse:service";
export const ENVIRONMENT_TAG = "wheelhouse:environment";
export const NAMESPACE_TAG = "wheelhouse:namespace";

/** The application a tracking label value names, among those known. */
export function trackedApplication(
  label: string,
  applications: ReadonlyMap<string, ApplicationFact>,
): ApplicationFact | undefined {
  // `<namespace>_<name>` (apps in any namespace) first, then a bare name in any namespace.
  const sep = label.indexOf("_");
  if (sep > 0) {
    const found = applications.get(`${label.slice(0, sep)}/${label.slice(sep + 1)}`);
    if (found) return found;
  }
  for (const app of applications.values()) if (app.name === label) return app;
  return undefined;
}

/**
 * The demo shop's traffic, made up from what the cluster says: every ready replica of a shop
 * workload serves a steady number of requests per second, and the version it runs decides how many
 * of them fail. No pod serves anything (kwok's pods have no containers), so this is the stand-in a
 * real service's own metrics would be: the request rate follows the ready replicas, the error ratio
 * follows the version deployed, and a rollout splits the traffic between the old and new versions.
 *
 * A version is bad when its name ends in `-bad` or when the namespace's ConfigMap
 * `demo-shop-faults` lists it under `bad_versions` (comma or space separated); that ConfigMap's
 * `error_ratio` sets how many requests a bad version fails (default 0.3). A good version fails none.
 * Pure functions: the cluster reading is in cluster.ts, the Prometheus side in metrics.ts.
 */

/** The namespace label naming its environment (infra/demo-shop/<env>/namespace.yaml). */
export const ENVIRONMENT_LABEL = "wheelhouse.dev/environment";
/** The pod template label a version is read from first; the first container's image tag otherwise. */
export const VERSION_LABEL = "app.kubernetes.io/version";
/** The ConfigMap (per namespace) that marks versions bad. */
export const FAULTS_CONFIGMAP = "demo-shop-faults";
export const DEFAULT_BAD_ERROR_RATIO = 0.3;

/** One ReplicaSet of a shop Deployment: the replicas of one version. */
export interface ReplicaSetView {
  readonly namespace: string;
  /** The owning Deployment's name (the service). */
  readonly service: string;
  readonly version: string;
  readonly readyReplicas: number;
}

/** One shop Deployment's replica counts. */
export interface DeploymentView {
  readonly namespace: string;
  readonly service: string;
  readonly desiredReplicas: number;
  readonly readyReplicas: number;
  readonly version: string;
}

/** What a namespace's `demo-shop-faults` ConfigMap says. */
export interface NamespaceFaults {
  readonly badVersions: ReadonlySet<string>;
  readonly errorRatio: number;
}

export interface ShopSnapshot {
  readonly replicaSets: readonly ReplicaSetView[];
  readonly deployments: readonly DeploymentView[];
  /** By namespace; a namespace without the ConfigMap is absent. */
  readonly faults: ReadonlyMap<string, NamespaceFaults>;
  /** Each shop namespace's `wheelhouse.dev/environment` label ("unknown" without one). */
  readonly environments: ReadonlyMap<string, string>;
}

export interface TrafficProfile {
  /** Requests per second each ready replica serves. */
  readonly requestsPerReplica: number;
}

/** One version of one service's requests since the last tick. */
export interface VersionTraffic {
  readonly namespace: string;
  readonly service: string;
  readonly version: string;
  /** Whether the version is bad (its requests fail at the namespace's error ratio, and are slower). */
  readonly bad: boolean;
  /** Requests answered 200. */
  readonly ok: number;
  /** Requests answered 500. */
  readonly failed: number;
}

/** The version a pod template runs: its `app.kubernetes.io/version` label, else the first image's tag. */
export function templateVersion(
  labels: Readonly<Record<string, string>> | undefined,
  images: readonly string[],
): string {
  const label = labels?.[VERSION_LABEL];
  if (label !== undefined && label !== "") return label;
  const image = images[0];
  if (image === undefined) return "unknown";
  const withoutDigest = image.split("@")[0] ?? image;
  // The tag follows the last ':' after the last '/' (a registry's port is before a '/').
  const lastPart = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = lastPart.lastIndexOf(":");
  return colon === -1 ? "latest" : lastPart.slice(colon + 1);
}

/** `demo-shop-faults` data → the faults; a missing or unreadable `error_ratio` keeps the default. */
export function parseFaults(data: Readonly<Record<string, string>> | undefined): NamespaceFaults {
  const badVersions = new Set(
    (data?.bad_versions ?? "")
      .split(/[\s,]+/)
      .map((v) => v.trim())
      .filter((v) => v !== ""),
  );
  const given = data?.error_ratio?.trim() ?? "";
  const ratio = given === "" ? Number.NaN : Number(given);
  const errorRatio = ratio >= 0 && ratio <= 1 ? ratio : DEFAULT_BAD_ERROR_RATIO;
  return { badVersions, errorRatio };
}

export function isBadVersion(version: string, faults: NamespaceFaults | undefined): boolean {
  return version.endsWith("-bad") || (faults?.badVersions.has(version) ?? false);
}

/** The share of a version's requests that fail with a 5xx: 0 when good. */
export function errorRatioOf(version: string, faults: NamespaceFaults | undefined): number {
  return isBadVersion(version, faults) ? (faults?.errorRatio ?? DEFAULT_BAD_ERROR_RATIO) : 0;
}

/** `namespace/service/version`: one version of one service (its ReplicaSets summed). */
export const versionKey = (v: { namespace: string; service: string; version: string }) =>
  `${v.namespace}/${v.service}/${v.version}`;

/**
 * Whole requests served since the last tick, per version of a service. Fractions carry over between
 * ticks, so that the counters stay integers and the long-run rate and error ratio are exact.
 */
export class TrafficAccumulator {
  readonly #carry = new Map<string, { ok: number; failed: number }>();

  constructor(private readonly profile: TrafficProfile) {}

  tick(snapshot: ShopSnapshot, elapsedSeconds: number): VersionTraffic[] {
    const ready = new Map<string, { namespace: string; service: string; version: string; replicas: number }>();
    for (const rs of snapshot.replicaSets) {
      if (rs.readyReplicas <= 0) continue;
      const key = versionKey(rs);
      const entry = ready.get(key) ?? {
        namespace: rs.namespace,
        service: rs.service,
        version: rs.version,
        replicas: 0,
      };
      entry.replicas += rs.readyReplicas;
      ready.set(key, entry);
    }
    const out: VersionTraffic[] = [];
    for (const [key, v] of ready) {
      const faults = snapshot.faults.get(v.namespace);
      const ratio = errorRatioOf(v.version, faults);
      const total = v.replicas * this.profile.requestsPerReplica * elapsedSeconds;
      const carry = this.#carry.get(key) ?? { ok: 0, failed: 0 };
      const exactOk = total * (1 - ratio) + carry.ok;
      const exactFailed = total * ratio + carry.failed;
      const ok = Math.floor(exactOk + 1e-9);
      const failed = Math.floor(exactFailed + 1e-9);
      this.#carry.set(key, { ok: exactOk - ok, failed: exactFailed - failed });
      out.push({
        namespace: v.namespace,
        service: v.service,
        version: v.version,
        bad: isBadVersion(v.version, faults),
        ok,
        failed,
      });
    }
    for (const key of this.#carry.keys()) if (!ready.has(key)) this.#carry.delete(key);
    return out;
  }
}

/**
 * A request's latency in seconds, spread over a fixed cycle so that quantiles are stable: a good
 * version answers in 20–120 ms, a bad one adds 400 ms.
 */
const LATENCY_CYCLE = [0.02, 0.03, 0.04, 0.05, 0.05, 0.06, 0.07, 0.08, 0.1, 0.12] as const;
export function latencySeconds(index: number, bad: boolean): number {
  const base = LATENCY_CYCLE[index % LATENCY_CYCLE.length] ?? 0.05;
  return bad ? base + 0.4 : base;
}

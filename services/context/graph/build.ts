/**
 * The service graph as a pure function of what the sources see. Joins, by labels and annotations:
 * - a service is the workloads and Services of one namespace that share `app.kubernetes.io/name`
 *   (else `app`, else the object's own name): service `runs_as` each workload;
 * - Helm (`app.kubernetes.io/managed-by: Helm` with `meta.helm.sh/release-name`) and Argo CD (the
 *   tracking label `argocd.argoproj.io/instance`): service `deployed_by` the release or application;
 * - `wheelhouse.dev/depends-on` (names in the namespace, `namespace/name`, or an AWS ARN) and AWS
 *   resources tagged `wheelhouse:service`: service `depends_on` service or cloud resource;
 * - `wheelhouse.dev/observed-by` (datasource names or uids, on a member or its namespace): service
 *   `observed_by` datasource.
 * A namespace's environment is its `wheelhouse.dev/environment` label, else its name. Pods only
 * count toward their workload (total, ready); no pod is a node.
 */
import type { ContextEdge, ContextEdgeKind, ContextNode } from "../../../events/index.ts";
import {
  type ApplicationFact,
  ARGOCD_TRACKING_LABEL,
  type CloudResourceFact,
  type DatasourceFact,
  ENVIRONMENT_TAG,
  type HelmReleaseFact,
  type HpaFact,
  NAMESPACE_TAG,
  type NamespaceFact,
  type ObjectMeta,
  type PodFact,
  SERVICE_TAG,
  type ServiceFact,
  trackedApplication,
  type WorkloadFact,
} from "../facts.ts";
import { applicationId, cloudResourceId, datasourceId, namespaceId, releaseId, serviceId, workloadId } from "./ids.ts";

export const ENVIRONMENT_LABEL = "wheelhouse.dev/environment";
export const DEPENDS_ON_ANNOTATION = "wheelhouse.dev/depends-on";
export const OBSERVED_BY_ANNOTATION = "wheelhouse.dev/observed-by";
const NAME_LABEL = "app.kubernetes.io/name";
const PART_OF_LABEL = "app.kubernetes.io/part-of";
const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
const HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name";
const HELM_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace";

/** Everything the sources currently see. */
export interface World {
  readonly namespaces: readonly NamespaceFact[];
  readonly workloads: readonly WorkloadFact[];
  readonly services: readonly ServiceFact[];
  readonly hpas: readonly HpaFact[];
  readonly pods: readonly PodFact[];
  readonly releases: readonly HelmReleaseFact[];
  readonly applications: readonly ApplicationFact[];
  readonly cloudResources: readonly CloudResourceFact[];
  readonly datasources: readonly DatasourceFact[];
}

export const emptyWorld: World = {
  namespaces: [],
  workloads: [],
  services: [],
  hpas: [],
  pods: [],
  releases: [],
  applications: [],
  cloudResources: [],
  datasources: [],
};

/** Nodes by id, and each node's outgoing edges (an aggregate holds the edges that leave it). */
export interface Graph {
  readonly nodes: ReadonlyMap<string, ContextNode>;
  readonly edges: ReadonlyMap<string, readonly ContextEdge[]>;
}

/** The service an object belongs to. */
export function serviceNameOf(meta: ObjectMeta): string {
  return meta.labels[NAME_LABEL] ?? meta.labels.app ?? meta.name;
}

interface ServiceGroup {
  readonly namespace: string;
  readonly name: string;
  readonly members: ObjectMeta[];
  readonly workloads: WorkloadFact[];
  readonly kubeServices: string[];
}

interface PodCounts {
  total: number;
  ready: number;
}

const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

/**
 * The graph of `world`. `carried` are recorded nodes of sources that have not answered yet: edges
 * to them are kept (a service keeps its edge to a database while AWS is still being read).
 */
export function buildGraph(world: World, carried: readonly ContextNode[] = []): Graph {
  const nodes = new Map<string, ContextNode>(carried.map((n) => [n.node_id, n]));
  const edges = new Map<string, Map<string, ContextEdge>>();
  const addEdge = (from: string, to: string, kind: ContextEdgeKind) => {
    let out = edges.get(from);
    if (!out) {
      out = new Map();
      edges.set(from, out);
    }
    out.set(`${kind}\u0000${to}`, { from_node: from, to_node: to, kind });
  };
  const namespaces = new Map(world.namespaces.map((n) => [n.name, n]));
  const environmentOf = (ns: string) => namespaces.get(ns)?.labels[ENVIRONMENT_LABEL] ?? ns;

  for (const ns of world.namespaces) {
    nodes.set(namespaceId(ns.name), {
      node_id: namespaceId(ns.name),
      kind: "namespace",
      name: ns.name,
      environment: environmentOf(ns.name),
      attributes: {},
      source: "kubernetes",
    });
  }
  const releases = new Map(world.releases.map((r) => [`${r.namespace}/${r.name}`, r]));
  for (const r of world.releases) {
    nodes.set(releaseId(r.namespace, r.name), {
      node_id: releaseId(r.namespace, r.name),
      kind: "release",
      name: r.name,
      environment: environmentOf(r.namespace),
      attributes: {
        namespace: r.namespace,
        chart: r.chart,
        chart_version: r.chartVersion,
        app_version: r.appVersion,
        revision: r.revision,
        status: r.status,
        values_digest: r.valuesDigest,
      },
      source: "helm",
    });
  }
  const applications = new Map(world.applications.map((a) => [`${a.namespace}/${a.name}`, a]));
  for (const a of world.applications) {
    nodes.set(applicationId(a.namespace, a.name), {
      node_id: applicationId(a.namespace, a.name),
      kind: "application",
      name: a.name,
      ...(a.destination.namespace ? { environment: environmentOf(a.destination.namespace) } : {}),
      attributes: {
        namespace: a.namespace,
        sync_status: a.syncStatus,
        health: a.health,
        revision: a.revision,
        destination: a.destination,
        source: a.source,
      },
      source: "argocd",
    });
  }

  const pods = new Map<string, PodCounts>();
  for (const p of world.pods) {
    if (!p.owner) continue;
    const key = `${p.namespace}/${p.owner.kind}/${p.owner.name}`;
    const c = pods.get(key) ?? { total: 0, ready: 0 };
    c.total++;
    if (p.ready) c.ready++;
    pods.set(key, c);
  }
  const hpas = new Map(world.hpas.map((h) => [`${h.namespace}/${h.target.kind}/${h.target.name}`, h]));

  const groups = new Map<string, ServiceGroup>();
  const groupOf = (meta: ObjectMeta) => {
    const name = serviceNameOf(meta);
    const key = `${meta.namespace}/${name}`;
    let g = groups.get(key);
    if (!g) {
      g = { namespace: meta.namespace, name, members: [], workloads: [], kubeServices: [] };
      groups.set(key, g);
    }
    g.members.push(meta);
    return g;
  };
  for (const w of world.workloads) {
    groupOf(w).workloads.push(w);
    const id = workloadId(w.namespace, w.kind, w.name);
    const hpa = hpas.get(`${w.namespace}/${w.kind}/${w.name}`);
    nodes.set(id, {
      node_id: id,
      kind: "workload",
      name: w.name,
      environment: environmentOf(w.namespace),
      attributes: {
        namespace: w.namespace,
        workload_kind: w.kind,
        replicas: w.replicas,
        ready_replicas: w.readyReplicas,
        updated_replicas: w.updatedReplicas,
        images: w.images,
        pods: pods.get(`${w.namespace}/${w.kind}/${w.name}`) ?? { total: 0, ready: 0 },
        ...(hpa ? { hpa: hpaAttributes(hpa) } : {}),
      },
      source: "kubernetes",
    });
  }
  for (const s of world.services) groupOf(s).kubeServices.push(s.name);

  // Joins see the datasources and cloud resources of this world and those carried as recorded.
  const datasources = new Map<string, string>();
  for (const n of carried) {
    if (n.kind === "datasource" && typeof n.attributes.uid === "string") {
      datasources.set(n.attributes.uid, n.node_id);
      datasources.set(n.name, n.node_id);
    }
  }
  for (const d of world.datasources) {
    datasources.set(d.uid, datasourceId(d.uid));
    datasources.set(d.name, datasourceId(d.uid));
    nodes.set(datasourceId(d.uid), {
      node_id: datasourceId(d.uid),
      kind: "datasource",
      name: d.name,
      attributes: { uid: d.uid, type: d.type, url: d.url, is_default: d.isDefault },
      source: "grafana",
    });
  }
  const cloud: { arn: string; tags: Readonly<Record<string, string>> }[] = [...world.cloudResources];
  for (const n of carried) {
    const { arn, tags } = n.attributes as { arn?: unknown; tags?: unknown };
    if (n.kind === "cloud_resource" && typeof arn === "string") {
      cloud.push({ arn, tags: (typeof tags === "object" && tags !== null ? tags : {}) as Record<string, string> });
    }
  }
  for (const r of world.cloudResources) {
    nodes.set(cloudResourceId(r.arn), {
      node_id: cloudResourceId(r.arn),
      kind: "cloud_resource",
      name: r.name,
      ...(r.tags[ENVIRONMENT_TAG] ? { environment: r.tags[ENVIRONMENT_TAG] } : {}),
      attributes: {
        arn: r.arn,
        service: r.service,
        resource_type: r.resourceType,
        region: r.region,
        account: r.account,
        tags: r.tags,
      },
      source: "aws",
    });
  }

  for (const g of groups.values()) {
    const id = serviceId(g.namespace, g.name);
    const owners = ownersOf(g, releases, applications);
    const release = owners.releases[0];
    const application = owners.applications[0];
    const hpa = g.workloads.map((w) => hpas.get(`${w.namespace}/${w.kind}/${w.name}`)).find((h) => h !== undefined);
    const partOf = g.members.map((m) => m.labels[PART_OF_LABEL]).find((v) => v !== undefined);
    nodes.set(id, {
      node_id: id,
      kind: "service",
      name: g.name,
      environment: environmentOf(g.namespace),
      attributes: {
        namespace: g.namespace,
        ...(partOf ? { part_of: partOf } : {}),
        replicas: g.workloads.reduce((n, w) => n + w.replicas, 0),
        ready_replicas: g.workloads.reduce((n, w) => n + w.readyReplicas, 0),
        images: sorted(g.workloads.flatMap((w) => w.images)),
        workloads: g.workloads.map((w) => `${w.kind}/${w.name}`).sort(),
        kubernetes_services: sorted(g.kubeServices),
        ...(hpa ? { hpa: hpaAttributes(hpa) } : {}),
        ...(release
          ? {
              chart: {
                release: release.name,
                name: release.chart,
                version: release.chartVersion,
                app_version: release.appVersion,
                revision: release.revision,
                status: release.status,
              },
            }
          : {}),
        ...(application
          ? {
              application: {
                name: application.name,
                sync_status: application.syncStatus,
                health: application.health,
                revision: application.revision,
              },
            }
          : {}),
      },
      source: "kubernetes",
    });
    for (const w of g.workloads) addEdge(id, workloadId(w.namespace, w.kind, w.name), "runs_as");
    for (const r of owners.releases) addEdge(id, releaseId(r.namespace, r.name), "deployed_by");
    for (const a of owners.applications) addEdge(id, applicationId(a.namespace, a.name), "deployed_by");
    for (const ref of sorted(g.members.flatMap((m) => list(m.annotations[DEPENDS_ON_ANNOTATION])))) {
      if (ref.startsWith("arn:")) {
        addEdge(id, cloudResourceId(ref), "depends_on");
        continue;
      }
      const [ns, name] = ref.includes("/") ? (ref.split("/", 2) as [string, string]) : [g.namespace, ref];
      addEdge(id, serviceId(ns, name), "depends_on");
    }
    const observers = [
      ...g.members.flatMap((m) => list(m.annotations[OBSERVED_BY_ANNOTATION])),
      ...list(namespaces.get(g.namespace)?.annotations[OBSERVED_BY_ANNOTATION]),
    ];
    for (const ref of sorted(observers)) {
      const d = datasources.get(ref);
      if (d) addEdge(id, d, "observed_by");
    }
  }

  for (const r of cloud) {
    const service = r.tags[SERVICE_TAG];
    if (!service) continue;
    for (const g of groups.values()) {
      if (g.name !== service) continue;
      if (r.tags[NAMESPACE_TAG] && r.tags[NAMESPACE_TAG] !== g.namespace) continue;
      if (r.tags[ENVIRONMENT_TAG] && r.tags[ENVIRONMENT_TAG] !== environmentOf(g.namespace)) continue;
      addEdge(serviceId(g.namespace, g.name), cloudResourceId(r.arn), "depends_on");
    }
  }

  // An edge to a node no source sees (a dependency not deployed yet) is not recorded until it is.
  const out = new Map<string, ContextEdge[]>();
  for (const [from, byKey] of edges) {
    const kept = [...byKey.values()].filter((e) => nodes.has(e.to_node) && e.to_node !== from);
    if (kept.length > 0)
      out.set(
        from,
        kept.sort((a, b) => (a.kind + a.to_node).localeCompare(b.kind + b.to_node)),
      );
  }
  return { nodes, edges: out };
}

function hpaAttributes(h: HpaFact) {
  return {
    name: h.name,
    min_replicas: h.minReplicas,
    max_replicas: h.maxReplicas,
    current_replicas: h.currentReplicas,
    desired_replicas: h.desiredReplicas,
  };
}

/** The Helm releases and Argo CD applications that deploy a service's objects. */
function ownersOf(
  g: ServiceGroup,
  releases: ReadonlyMap<string, HelmReleaseFact>,
  applications: ReadonlyMap<string, ApplicationFact>,
): { releases: HelmReleaseFact[]; applications: ApplicationFact[] } {
  const rels = new Map<string, HelmReleaseFact>();
  const apps = new Map<string, ApplicationFact>();
  for (const m of g.members) {
    const releaseName = m.annotations[HELM_RELEASE_ANNOTATION];
    if (releaseName && m.labels[MANAGED_BY_LABEL] === "Helm") {
      const ns = m.annotations[HELM_NAMESPACE_ANNOTATION] ?? m.namespace;
      const r = releases.get(`${ns}/${releaseName}`);
      if (r) rels.set(`${ns}/${releaseName}`, r);
    }
    const tracking = m.labels[ARGOCD_TRACKING_LABEL];
    if (tracking) {
      const a = trackedApplication(tracking, applications);
      if (a) apps.set(`${a.namespace}/${a.name}`, a);
    }
  }
  const byName = <T extends { namespace: string; name: string }>(m: Map<string, T>) =>
    [...m.values()].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return { releases: byName(rels), applications: byName(apps) };
}

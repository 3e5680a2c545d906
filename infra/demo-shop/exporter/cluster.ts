/**
 * Reading the demo shop from the cluster: the Deployments and ReplicaSets labelled
 * `app.kubernetes.io/part-of=shop` in every namespace (the shop-* namespaces, and the copies tests
 * make in namespaces of their own), each namespace's `demo-shop-faults` ConfigMap and its
 * environment label. Four list calls per poll, a few objects each: cheaper and simpler than keeping watches, and a restarted API
 * server costs nothing but one failed poll.
 */
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1PodTemplateSpec } from "@kubernetes/client-node";
import {
  type DeploymentView,
  ENVIRONMENT_LABEL,
  FAULTS_CONFIGMAP,
  type NamespaceFaults,
  parseFaults,
  type ReplicaSetView,
  type ShopSnapshot,
  templateVersion,
} from "./model.ts";

export const SHOP_SELECTOR = "app.kubernetes.io/part-of=shop";

const versionOf = (template: V1PodTemplateSpec | undefined) =>
  templateVersion(
    template?.metadata?.labels,
    (template?.spec?.containers ?? []).map((c) => c.image ?? ""),
  );

/** Returns a function that reads one snapshot of the shop; it throws when the API server does not answer. */
export function shopReader(kc: KubeConfig, selector = SHOP_SELECTOR): () => Promise<ShopSnapshot> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  return async () => {
    const [deployments, replicaSets, configMaps, namespaces] = await Promise.all([
      apps.listDeploymentForAllNamespaces({ labelSelector: selector }),
      apps.listReplicaSetForAllNamespaces({ labelSelector: selector }),
      core.listConfigMapForAllNamespaces({ fieldSelector: `metadata.name=${FAULTS_CONFIGMAP}` }),
      core.listNamespace(),
    ]);
    const deploymentViews: DeploymentView[] = deployments.items.map((d) => ({
      namespace: d.metadata?.namespace ?? "",
      service: d.metadata?.name ?? "",
      desiredReplicas: d.spec?.replicas ?? 1,
      readyReplicas: d.status?.readyReplicas ?? 0,
      version: versionOf(d.spec?.template),
    }));
    const shop = new Set(deploymentViews.map((d) => `${d.namespace}/${d.service}`));
    const replicaSetViews: ReplicaSetView[] = [];
    for (const rs of replicaSets.items) {
      const owner = rs.metadata?.ownerReferences?.find((o) => o.kind === "Deployment" && o.controller);
      const namespace = rs.metadata?.namespace ?? "";
      // A ReplicaSet whose Deployment is gone (or not a shop one) serves no shop traffic.
      if (owner === undefined || !shop.has(`${namespace}/${owner.name}`)) continue;
      replicaSetViews.push({
        namespace,
        service: owner.name,
        version: versionOf(rs.spec?.template),
        readyReplicas: rs.status?.readyReplicas ?? 0,
      });
    }
    const faults = new Map<string, NamespaceFaults>();
    for (const cm of configMaps.items) faults.set(cm.metadata?.namespace ?? "", parseFaults(cm.data));
    const environments = new Map<string, string>();
    const shopNamespaces = new Set(deploymentViews.map((d) => d.namespace));
    for (const ns of namespaces.items) {
      const name = ns.metadata?.name ?? "";
      if (shopNamespaces.has(name)) environments.set(name, ns.metadata?.labels?.[ENVIRONMENT_LABEL] || "unknown");
    }
    return { deployments: deploymentViews, replicaSets: replicaSetViews, faults, environments };
  };
}

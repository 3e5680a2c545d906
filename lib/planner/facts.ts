/**
 * What the template planner says about a service's live state (from the service graph) in its
 * rationales and summaries, and the one fact that stops a plan: a replica count outside the bounds
 * of the HorizontalPodAutoscaler that scales the workload, which it would undo.
 */
import type { ServiceContext } from "./types.ts";

/** The service's current state in words ("2 replicas (2 ready), image ..., HPA checkout 2-12"); empty when unknown. */
export function describeState(svc: ServiceContext | undefined): string {
  if (!svc) return "";
  const parts: string[] = [];
  if (svc.replicas !== undefined) {
    parts.push(
      `${svc.replicas} replica${svc.replicas === 1 ? "" : "s"}${svc.ready_replicas === undefined ? "" : ` (${svc.ready_replicas} ready)`}`,
    );
  }
  if (svc.images && svc.images.length > 0) parts.push(`image ${svc.images.join(", ")}`);
  if (svc.hpa) parts.push(`${hpaName(svc)} bounds ${svc.hpa.min_replicas ?? "?"}-${svc.hpa.max_replicas ?? "?"}`);
  if (svc.helm?.release) {
    const { chart_name, version, revision } = svc.helm;
    const detail = [
      chart_name ? `chart ${[chart_name, version].filter(Boolean).join(" ")}` : "",
      revision === undefined ? "" : `revision ${revision}`,
    ].filter((d) => d !== "");
    parts.push(`Helm release ${svc.helm.release}${detail.length > 0 ? ` (${detail.join(", ")})` : ""}`);
  }
  if (svc.argocd?.app)
    parts.push(`Argo CD app ${svc.argocd.app}${svc.argocd.revision ? ` at ${svc.argocd.revision}` : ""}`);
  if (svc.depends_on && svc.depends_on.length > 0) parts.push(`depends on ${svc.depends_on.join(", ")}`);
  parts.push(
    svc.dependents && svc.dependents.length > 0
      ? `${svc.dependents.join(", ")} depend${svc.dependents.length === 1 ? "s" : ""} on it`
      : "nothing depends on it",
  );
  return parts.join("; ");
}

/** Why `replicas` cannot hold for `svc` (outside its autoscaler's bounds), or null when it can. */
export function hpaBoundsProblem(svc: ServiceContext | undefined, replicas: number): string | null {
  const hpa = svc?.hpa;
  if (!hpa) return null;
  const { min_replicas: min, max_replicas: max } = hpa;
  const below = min !== undefined && replicas < min;
  const above = max !== undefined && replicas > max;
  if (!below && !above) return null;
  return (
    `${svc.name} in ${svc.namespace ?? svc.environment} is scaled by ${hpaName(svc)} between ${min ?? "?"} and ${max ?? "?"} replicas, ` +
    `which would undo a count of ${replicas}: ask for ${min ?? 1} to ${max ?? "its maximum"} replicas, or change the autoscaler's ${above ? "maxReplicas" : "minReplicas"} first`
  );
}

/** How an autoscaled service's expected effect is qualified. */
export function hpaNote(svc: ServiceContext | undefined): string {
  if (!svc?.hpa) return "";
  return `; ${hpaName(svc)} (${svc.hpa.min_replicas ?? "?"}-${svc.hpa.max_replicas ?? "?"}) may change the count later as load changes`;
}

const hpaName = (svc: ServiceContext) => `HorizontalPodAutoscaler ${svc.hpa?.name ?? svc.name}`;

/**
 * `kubectl rollout status` over the Kubernetes API: read the workload, then watch it (from the
 * resourceVersion read, resuming from the last one seen when the server ends a watch) until its
 * status says the rollout is complete, printing each new status line as kubectl does. The status
 * rules are kubectl's own (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go).
 */

import type { KubeConfig } from "@kubernetes/client-node";
import { Watch } from "@kubernetes/client-node";

// biome-ignore lint/suspicious/noExplicitAny: a workload's JSON as the API serves it, read field by field
type Workload = any;

/** A rollout that cannot finish (or a watch that failed): kubectl's message, exit 1. */
export class RolloutError extends Error {
  /** The status lines printed before it failed (kubectl prints them on stdout, the error on stderr). */
  printed: readonly string[] = [];
  constructor(message: string) {
    super(message);
    this.name = "RolloutError";
  }
}

/** kubectl's status line for a workload, and whether the rollout is complete. */
export function rolloutStatusOf(kind: string, w: Workload): { message: string; done: boolean } {
  const name = w.metadata?.name;
  const generation = w.metadata?.generation ?? 0;
  const status = w.status ?? {};
  const observed = status.observedGeneration ?? 0;
  switch (kind) {
    case "Deployment": {
      if (generation > observed)
        return { message: "Waiting for deployment spec update to be observed...", done: false };
      const progressing = (status.conditions ?? []).find((c: Workload) => c.type === "Progressing");
      if (progressing?.reason === "ProgressDeadlineExceeded") {
        throw new RolloutError(`error: deployment "${name}" exceeded its progress deadline`);
      }
      const desired = w.spec?.replicas;
      const updated = status.updatedReplicas ?? 0;
      if (desired !== undefined && updated < desired) {
        return {
          message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${desired} new replicas have been updated...`,
          done: false,
        };
      }
      if ((status.replicas ?? 0) > updated) {
        return {
          message: `Waiting for deployment "${name}" rollout to finish: ${(status.replicas ?? 0) - updated} old replicas are pending termination...`,
          done: false,
        };
      }
      if ((status.availableReplicas ?? 0) < updated) {
        return {
          message: `Waiting for deployment "${name}" rollout to finish: ${status.availableReplicas ?? 0} of ${updated} updated replicas are available...`,
          done: false,
        };
      }
      return { message: `deployment "${name}" successfully rolled out`, done: true };
    }
    case "StatefulSet": {
      if (observed === 0 || generation > observed) {
        return { message: "Waiting for statefulset spec update to be observed...", done: false };
      }
      const desired = w.spec?.replicas;
      if (desired !== undefined && (status.readyReplicas ?? 0) < desired) {
        return { message: `Waiting for ${desired - (status.readyReplicas ?? 0)} pods to be ready...`, done: false };
      }
      if (status.updateRevision !== status.currentRevision) {
        return {
          message: `waiting for statefulset rolling update to complete ${status.updatedReplicas ?? 0} pods at revision ${status.updateRevision}...`,
          done: false,
        };
      }
      return {
        message: `statefulset rolling update complete ${status.currentReplicas ?? 0} pods at revision ${status.currentRevision}...`,
        done: true,
      };
    }
    case "DaemonSet": {
      if (generation > observed)
        return { message: "Waiting for daemon set spec update to be observed...", done: false };
      const desired = status.desiredNumberScheduled ?? 0;
      if ((status.updatedNumberScheduled ?? 0) < desired) {
        return {
          message: `Waiting for daemon set "${name}" rollout to finish: ${status.updatedNumberScheduled ?? 0} out of ${desired} new pods have been updated...`,
          done: false,
        };
      }
      if ((status.numberAvailable ?? 0) < desired) {
        return {
          message: `Waiting for daemon set "${name}" rollout to finish: ${status.numberAvailable ?? 0} of ${desired} updated pods are available...`,
          done: false,
        };
      }
      return { message: `daemon set "${name}" successfully rolled out`, done: true };
    }
    default:
      throw new RolloutError(`error: no status viewer has been implemented for ${kind}`);
  }
}

export interface RolloutWatch {
  readonly kc: KubeConfig;
  /** The collection's path (`/apis/apps/v1/namespaces/shop/deployments`). */
  readonly path: string;
  readonly kind: string;
  readonly name: string;
  /** The workload as read just before: its status is judged first, its resourceVersion starts the watch. */
  readonly initial: Workload;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** Waits for the rollout to complete; resolves with kubectl's lines, or throws a `RolloutError` holding them. */
export async function watchRollout(w: RolloutWatch): Promise<string[]> {
  const lines: string[] = [];
  try {
    return await follow(w, lines);
  } catch (error) {
    if (error instanceof RolloutError) error.printed = [...lines];
    throw error;
  }
}

async function follow(w: RolloutWatch, lines: string[]): Promise<string[]> {
  const judge = (workload: Workload): boolean => {
    const { message, done } = rolloutStatusOf(w.kind, workload);
    if (lines.at(-1) !== message) lines.push(message);
    return done;
  };
  if (judge(w.initial)) return lines;
  const deadline = Date.now() + w.timeoutMs;
  let resourceVersion: string = w.initial.metadata?.resourceVersion ?? "";
  const watch = new Watch(w.kc);
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new RolloutError("error: timed out waiting for the condition");
    const done = await new Promise<boolean>((resolve, reject) => {
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (outcome: boolean | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        w.signal?.removeEventListener("abort", onAbort);
        controller?.abort();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const timer = setTimeout(() => finish(false), left);
      const onAbort = () => finish(new RolloutError("error: the call was cancelled"));
      w.signal?.addEventListener("abort", onAbort, { once: true });
      watch
        .watch(
          w.path,
          { fieldSelector: `metadata.name=${w.name}`, resourceVersion, allowWatchBookmarks: true },
          (phase, object: Workload) => {
            if (object?.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
            if (phase === "BOOKMARK") return;
            if (phase === "DELETED") return finish(new RolloutError(`error: ${w.kind} "${w.name}" was deleted`));
            try {
              if (judge(object)) finish(true);
            } catch (error) {
              finish(error as Error);
            }
          },
          // The server ended the watch (its own timeout): watch again from the last version seen.
          (error: unknown) => finish(error ? new RolloutError(`error: watch failed: ${String(error)}`) : false),
        )
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        })
        .catch((error: unknown) => finish(new RolloutError(`error: watch failed: ${(error as Error).message}`)));
    });
    if (done) return lines;
  }
}

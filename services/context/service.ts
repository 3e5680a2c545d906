/**
 * The context service: watches the cluster (workloads, Services, HPAs, pods, Helm's release
 * secrets, Argo CD's Application objects) and polls AWS and Grafana, builds the service graph from
 * what they see, and records `context.*` events for what changed. Composed of its seams: the
 * sources (sources/), the graph and its recording (graph/), the passes (passes.ts), the answers
 * (`RefreshContext`, `GetServiceGraph`) and the health report (answers.ts).
 */

import type { KubeConfig } from "@kubernetes/client-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ContextNode, ContextSource } from "../../events/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type { ServiceDetail } from "../../projections/context/detail.ts";
import {
  type ContextHealth,
  contextHealth,
  type RefreshRequest,
  type RefreshResult,
  type ServiceGraphRequest,
  serviceGraph,
} from "./answers.ts";
import { buildGraph, type World } from "./graph/build.ts";
import { type KnownNode, loadKnownGraph } from "./graph/known.ts";
import { createRecorder, type Recorder, type RecordOutcome } from "./graph/record.ts";
import { createPassRunner } from "./passes.ts";
import { type AwsResources, type AwsSourceOptions, awsResourcesPoll } from "./sources/aws.ts";
import { type GrafanaDatasources, type GrafanaSourceOptions, grafanaDatasourcesPoll } from "./sources/grafana.ts";
import { createKubeSource, type KubeCounters, type KubeSource, type KubeSourceDeps } from "./sources/kube.ts";
import { createPoller, type Poller } from "./sources/poller.ts";

export interface PollSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface ContextServiceDeps {
  readonly store: Pick<EventStore, "append" | "readAggregate" | "prefix" | "streams">;
  readonly nc: NatsConnection;
  readonly logger: Logger;
  /** The cluster; null: none is configured and the service stays idle, saying so in its health. */
  readonly kubeconfig: KubeConfig | null;
  /** Where the kubeconfig came from (a path), for messages. */
  readonly kubeconfigSource?: string | undefined;
  readonly kube?: Partial<Omit<KubeSourceDeps, "kubeconfig" | "logger" | "onChange">>;
  readonly aws?: (AwsSourceOptions & PollSettings) | null;
  readonly grafana?: (GrafanaSourceOptions & PollSettings) | null;
  /** Changes within this window make one pass; default 20 ms. */
  readonly debounceMs?: number;
  /** A pass at least this often; default 30 s. */
  readonly resyncMs?: number;
  readonly now?: () => Date;
}

export interface ContextService {
  /** Reads the recorded graph, starts the sources, records the first pass once they have answered. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Reads the named source (or all) now and records what changed. */
  refreshContext(ref?: RefreshRequest): Promise<RefreshResult>;
  /** A service as recorded, with its neighbours and what depends on it; null when there is none. */
  getServiceGraph(ref: ServiceGraphRequest): ServiceDetail[];
  health(): ContextHealth;
  /** List and watch calls per Kubernetes kind (tests and the benchmark count relists with them). */
  counters(): Record<string, KubeCounters>;
  /** The last pass's outcome. */
  lastPass(): RecordOutcome | null;
}

export function createContextService(deps: ContextServiceDeps): ContextService {
  const { logger } = deps;
  let kube: KubeSource | null = null;
  let aws: Poller<AwsResources> | null = null;
  let grafana: Poller<GrafanaDatasources> | null = null;
  let closeAws: (() => void) | null = null;
  let recorder: Recorder | null = null;
  let last: RecordOutcome | null = null;
  let started = false;

  const passes = createPassRunner({
    run: () => recordPass(),
    debounceMs: deps.debounceMs ?? 20,
    resyncMs: deps.resyncMs ?? 30_000,
    logger,
  });

  // Until the sources have answered once, the first pass (after them) sees everything: no pass on each object listed.
  const changed = () => {
    if (started) passes.schedule();
  };

  /** Sources that are configured but have not answered yet: their recorded nodes stay as they are. */
  function unsynced(): Set<ContextSource> {
    const out = new Set<ContextSource>();
    for (const s of ["kubernetes", "helm", "argocd"] as const) if (kube && !kube.synced(s)) out.add(s);
    if (aws && !aws.synced()) out.add("aws");
    if (grafana && !grafana.synced()) out.add("grafana");
    return out;
  }

  async function recordPass(): Promise<void> {
    if (!kube || !recorder) return;
    const waiting = unsynced();
    const carried: ContextNode[] = [];
    for (const { state } of recorder.known().values()) {
      if (state.node?.source && waiting.has(state.node.source)) carried.push(state.node);
    }
    const world: World = {
      ...kube.facts(),
      cloudResources: aws?.latest()?.resources ?? [],
      datasources: grafana?.latest()?.datasources ?? [],
    };
    const graph = buildGraph(world, carried);
    const outcome = await recorder.record(graph, new Set(carried.map((n) => n.node_id)));
    last = outcome;
    if (outcome.events > 0) {
      logger.debug({ ...outcome }, `recorded ${outcome.events} context events for ${outcome.nodes} nodes`);
    }
    if (outcome.failed > 0) passes.schedule();
  }

  return {
    async start() {
      if (!deps.kubeconfig) {
        logger.warn(
          "no cluster configured: the context service stays idle (set context.kubeconfig, or KUBECONFIG, or start the local cluster with scripts/infra up)",
        );
        return;
      }
      const known: Map<string, KnownNode> = await loadKnownGraph(deps.nc, deps.store, logger);
      recorder = createRecorder({ store: deps.store, logger, now: deps.now }, known);
      kube = createKubeSource({ ...deps.kube, kubeconfig: deps.kubeconfig, logger, onChange: changed });
      if (deps.aws) {
        const source = awsResourcesPoll(deps.aws);
        closeAws = source.close;
        aws = createPoller({
          name: "aws",
          ...deps.aws,
          poll: source.poll,
          problems: (r) => r.skipped.map((arn) => `not an ARN: ${arn}`),
          onChange: changed,
          logger,
        });
      }
      if (deps.grafana) {
        grafana = createPoller({
          name: "grafana",
          ...deps.grafana,
          poll: grafanaDatasourcesPoll(deps.grafana),
          problems: (r) => (r.skipped > 0 ? [`${r.skipped} datasources without a uid, name or type`] : []),
          onChange: changed,
          logger,
        });
      }
      await Promise.all([kube.start(), aws?.pollNow(), grafana?.pollNow()]);
      aws?.start();
      grafana?.start();
      started = true;
      await passes.runNow();
      passes.start();
      logger.info(
        { kubeconfig: deps.kubeconfigSource, nodes: recorder.known().size, ...last },
        "watching the cluster; the service graph is recorded",
      );
    },
    async stop() {
      await passes.stop();
      await Promise.all([kube?.stop(), aws?.stop(), grafana?.stop()]);
      closeAws?.();
    },
    async refreshContext(ref = {}) {
      const source = ref.source ?? "all";
      if (started) {
        await Promise.all([
          source === "all" || source === "aws" ? aws?.pollNow() : undefined,
          source === "all" || source === "grafana" ? grafana?.pollNow() : undefined,
        ]);
        await passes.runNow();
      }
      return { source, recorded: last, health: this.health() };
    },
    getServiceGraph: (ref) => serviceGraph(recorder?.known() ?? new Map(), ref),
    health: () =>
      contextHealth({
        configured: deps.kubeconfig !== null,
        started,
        kube: kube?.health() ?? null,
        aws: aws?.health() ?? null,
        grafana: grafana?.health() ?? null,
        lastPass: last,
      }),
    counters: () => kube?.counters() ?? {},
    lastPass: () => last,
  };
}

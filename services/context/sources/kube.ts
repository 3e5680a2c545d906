/**
 * The cluster as the context service sees it: one `ListWatch` (client-node's informer) per kind,
 * listing once and then watching with bookmarks from the last resourceVersion. `ListWatch` relists
 * on 410 Gone and resumes a watch that ended; when a watch or list fails otherwise it stops, and
 * this restarts it with backoff, from the resourceVersion it had (so a dropped connection or a
 * restarted API server costs no relist). Each object is parsed into a fact as it arrives; a
 * malformed one is logged, counted in the health and left out.
 */
import { type KubeConfig, type KubernetesObject, ListWatch } from "@kubernetes/client-node";
import type { ContextSource } from "../../../events/index.ts";
import type { Logger } from "../../../lib/log/index.ts";
import type {
  ApplicationFact,
  HelmReleaseFact,
  HpaFact,
  NamespaceFact,
  PodFact,
  ServiceFact,
  WorkloadFact,
} from "../facts.ts";
import { ARGOCD_GROUP, ARGOCD_VERSION, applicationFact } from "./argocd.ts";
import {
  hpaFact,
  type KubeObject,
  MalformedObjectError,
  namespaceFact,
  podFact,
  serviceFact,
  workloadFact,
} from "./facts.ts";
import { type SourceHealth, SourceTracker } from "./health.ts";
import { currentReleases, decodeHelmRelease, HELM_SECRET_SELECTOR, HELM_SECRET_TYPE } from "./helm.ts";
import { BookmarkWatch, listFunction } from "./kube-list.ts";

type Fact = NamespaceFact | WorkloadFact | ServiceFact | HpaFact | PodFact | HelmReleaseFact | ApplicationFact;

interface KindSpec {
  readonly key: string;
  readonly source: ContextSource;
  readonly path: string;
  readonly labelSelector?: string;
  /** The fact, or null for an object that is not one (a Secret that is not a Helm release). */
  readonly parse: (o: KubeObject) => Fact | null;
}

export const KUBE_KINDS: readonly KindSpec[] = [
  { key: "namespaces", source: "kubernetes", path: "/api/v1/namespaces", parse: namespaceFact },
  {
    key: "deployments",
    source: "kubernetes",
    path: "/apis/apps/v1/deployments",
    parse: (o) => workloadFact("Deployment", o),
  },
  {
    key: "statefulsets",
    source: "kubernetes",
    path: "/apis/apps/v1/statefulsets",
    parse: (o) => workloadFact("StatefulSet", o),
  },
  {
    key: "daemonsets",
    source: "kubernetes",
    path: "/apis/apps/v1/daemonsets",
    parse: (o) => workloadFact("DaemonSet", o),
  },
  { key: "services", source: "kubernetes", path: "/api/v1/services", parse: serviceFact },
  { key: "hpas", source: "kubernetes", path: "/apis/autoscaling/v2/horizontalpodautoscalers", parse: hpaFact },
  { key: "pods", source: "kubernetes", path: "/api/v1/pods", parse: podFact },
  {
    key: "releases",
    source: "helm",
    path: "/api/v1/secrets",
    labelSelector: HELM_SECRET_SELECTOR,
    parse: (o) => (o.type === HELM_SECRET_TYPE ? decodeHelmRelease(o) : null),
  },
  {
    key: "applications",
    source: "argocd",
    path: `/apis/${ARGOCD_GROUP}/${ARGOCD_VERSION}/applications`,
    parse: applicationFact,
  },
];

export interface KubeFacts {
  readonly namespaces: NamespaceFact[];
  readonly workloads: WorkloadFact[];
  readonly services: ServiceFact[];
  readonly hpas: HpaFact[];
  readonly pods: PodFact[];
  readonly releases: HelmReleaseFact[];
  readonly applications: ApplicationFact[];
}

export interface KubeSourceDeps {
  readonly kubeconfig: KubeConfig;
  readonly logger: Logger;
  /** Something the graph is built from changed. */
  readonly onChange: () => void;
  /** Server-side watch timeout (bookmark, then a clean end and a resume); below client-node's 30 s idle limit. */
  readonly watchTimeoutSeconds?: number;
  readonly listPageSize?: number;
  readonly requestTimeoutMs?: number;
  readonly maxBackoffMs?: number;
  readonly now?: () => number;
}

export interface KubeCounters {
  readonly lists: number;
  readonly watches: number;
  /** Watches sent with a resourceVersion (resumed), as opposed to right after a list. */
  readonly resumed: number;
}

export interface KubeSource {
  /** Starts every informer; resolves once each has listed, or failed its first attempt (it goes on retrying). */
  start(): Promise<void>;
  stop(): Promise<void>;
  facts(): KubeFacts;
  /** Whether every kind of `source` has listed at least once. */
  synced(source: ContextSource): boolean;
  health(): Record<string, SourceHealth>;
  counters(): Record<string, KubeCounters>;
}

const objectKey = (o: KubeObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

export function createKubeSource(deps: KubeSourceDeps): KubeSource {
  const { kubeconfig: kc, logger } = deps;
  const now = deps.now ?? Date.now;
  const maxBackoff = deps.maxBackoffMs ?? 30_000;
  const facts = new Map(KUBE_KINDS.map((k) => [k.key, new Map<string, Fact>()]));
  // A watch ends (with a bookmark) every watchTimeoutSeconds; no contact for three of those is stale.
  const staleAfterMs = 3 * (deps.watchTimeoutSeconds ?? 25) * 1000 + 30_000;
  const trackers = new Map(
    KUBE_KINDS.map((k) => [k.key, new SourceTracker(`${k.source} ${k.key}`, logger, { now, staleAfterMs })]),
  );
  const counters = new Map(KUBE_KINDS.map((k) => [k.key, { lists: 0, watches: 0, resumed: 0 }]));
  const informers: { spec: KindSpec; lw: ListWatch<KubernetesObject> }[] = [];
  /** Settles when each kind has listed, or failed its first attempt. */
  const firstAttempts: Promise<void>[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  function informer(spec: KindSpec) {
    const tracker = trackers.get(spec.key) as SourceTracker;
    let backoff = 1000;
    let attempted: () => void = () => {};
    firstAttempts.push(new Promise<void>((resolve) => (attempted = resolve)));
    const contact = (listed = false) => {
      backoff = 1000;
      tracker.succeeded({ listed });
    };
    const count = counters.get(spec.key) as { lists: number; watches: number; resumed: number };
    const store = facts.get(spec.key) as Map<string, Fact>;
    const list = listFunction(kc, spec.path, {
      labelSelector: spec.labelSelector,
      pageSize: deps.listPageSize ?? 500,
      timeoutMs: deps.requestTimeoutMs ?? 30_000,
      onList: () => count.lists++,
    });
    const watch = new BookmarkWatch(kc, deps.watchTimeoutSeconds ?? 25, {
      onWatch: (rv) => {
        count.watches++;
        if (rv) count.resumed++;
      },
      onEvent: () => contact(),
    });
    const lw = new ListWatch<KubernetesObject>(
      spec.path,
      watch,
      async () => {
        const result = await list();
        contact(true);
        // The watch that follows may hold its headers until the first event: the kind has synced now.
        setImmediate(attempted);
        return result;
      },
      false,
      spec.labelSelector,
    );
    const upsert = (object: KubernetesObject) => {
      const o = object as KubeObject;
      try {
        const fact = spec.parse(o);
        if (fact === null) store.delete(objectKey(o));
        else store.set(objectKey(o), fact);
        tracker.clearMalformed(objectKey(o));
      } catch (error) {
        store.delete(objectKey(o));
        if (!(error instanceof MalformedObjectError)) throw error;
        tracker.malformed(objectKey(o), error.message);
      }
      deps.onChange();
    };
    lw.on("add", upsert);
    lw.on("update", upsert);
    lw.on("delete", (object) => {
      const o = object as KubeObject;
      store.delete(objectKey(o));
      tracker.clearMalformed(objectKey(o));
      deps.onChange();
    });
    lw.on("error", (err: unknown) => {
      if (stopped) return;
      tracker.failed(describe(err), { retryInMs: backoff });
      attempted();
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopped) void lw.start().catch((e: unknown) => tracker.failed(describe(e), { retryInMs: backoff }));
      }, backoff);
      timers.add(timer);
      backoff = Math.min(backoff * 2, maxBackoff);
    });
    informers.push({ spec, lw });
    return lw;
  }

  return {
    async start() {
      for (const spec of KUBE_KINDS)
        void informer(spec)
          .start()
          .catch(() => {});
      await Promise.all(firstAttempts);
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await Promise.all(informers.map(({ lw }) => lw.stop()));
    },
    facts() {
      const of = <T extends Fact>(key: string) => [...(facts.get(key)?.values() ?? [])] as T[];
      return {
        namespaces: of<NamespaceFact>("namespaces"),
        workloads: [
          ...of<WorkloadFact>("deployments"),
          ...of<WorkloadFact>("statefulsets"),
          ...of<WorkloadFact>("daemonsets"),
        ],
        services: of<ServiceFact>("services"),
        hpas: of<HpaFact>("hpas"),
        pods: of<PodFact>("pods"),
        releases: currentReleases(of<HelmReleaseFact>("releases")),
        applications: of<ApplicationFact>("applications"),
      };
    },
    synced(source) {
      return KUBE_KINDS.filter((k) => k.source === source).every((k) => trackers.get(k.key)?.hasSucceeded());
    },
    health() {
      return Object.fromEntries([...trackers].map(([key, t]) => [key, t.health()]));
    },
    counters() {
      return Object.fromEntries([...counters].map(([key, c]) => [key, { ...c }]));
    },
  };
}

function describe(err: unknown): string {
  const e = err as {
    message?: string;
    statusCode?: number;
    code?: string;
    cause?: { code?: string; message?: string };
  };
  // fetch (the watch) wraps the socket's error: name both, "fetch failed (UND_ERR_SOCKET: other side closed)".
  const cause = [e?.cause?.code, e?.cause?.message].filter(Boolean).join(": ");
  const message = (e?.message ?? String(err)).replace(/\s+/g, " ").trim();
  if (e?.statusCode === 404) return `${message} (is the resource's CRD installed?)`;
  return `${message}${cause && !message.includes(cause) ? ` (${cause})` : ""}`;
}

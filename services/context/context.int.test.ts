/**
 * The context service against the real local cluster (through a counting proxy on 127.0.0.1), the
 * AWS tagging and Grafana fixtures, a real event store, projector and gateway: changes made outside
 * Wheelhouse (kubectl, helm) show in `GET /v1/context/services/{name}`; a dropped watch resumes
 * without a list; a 410 relists and records nothing new; faults show in the health, never as a crash
 * or a graph that silently goes stale. Each test works in a namespace of its own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import { createLogger } from "../../lib/log/index.ts";
import { startTaggingFixture, type TaggingFixture } from "../../test/fixtures/aws/tagging.ts";
import { datasource, type GrafanaFixture, startGrafanaFixture } from "../../test/fixtures/grafana/server.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import {
  createTestDeployment,
  createTestNamespace,
  kubectl,
  type TestNamespace,
  testCluster,
  uniqueKubeName,
  waitFor,
  withDeadline,
} from "../../test/support/index.ts";
import { createContextTransport } from "./http.ts";
import { type KubeProxy, startKubeProxy } from "./kube-proxy.fixture.ts";
import { type ContextService, createContextService } from "./service.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DEPLOYMENTS = "/apis/apps/v1/deployments";
const GRAFANA_TOKEN = "glsa_fixture_token_0123456789";

describe("context service on the local cluster", () => {
  let gw: TestGateway;
  let proxy: KubeProxy;
  let tagging: TaggingFixture;
  let grafana: GrafanaFixture;
  let service: ContextService;
  let ns: TestNamespace;
  let token: string;
  const logLines: string[] = [];
  const dsName = uniqueKubeName("prometheus");
  const dbArn = () => `arn:aws:rds:eu-west-1:123456789012:db:${ns.name}-orders`;

  const api = async (path: string) => {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    // biome-ignore lint/suspicious/noExplicitAny: the API's answers are read field by field
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const serviceView = (name: string) => api(`/v1/context/services/${name}?environment=${ns.name}`);
  /** Context events recorded on this test's namespace's nodes (the stream's per-subject counts). */
  const eventsOfNamespace = async () => {
    const jsm = await gw.store.manager();
    const info = await jsm.streams.info(gw.store.streams.events, { subjects_filter: `${gw.prefix}.evt.context.*` });
    return Object.entries(info.state.subjects ?? {})
      .filter(([subject]) => subject.includes(`_${ns.name}_`))
      .reduce((n, [, count]) => n + count, 0);
  };

  before(async () => {
    await kubectl(["apply", `--filename=${join(ROOT, "infra", "kube", "argocd-application-crd.yaml")}`]);
    ns = await createTestNamespace("whctx");
    await kubectl(["annotate", "namespace", ns.name, `wheelhouse.dev/observed-by=${dsName}`]);
    gw = await startTestGateway();
    token = await gw.token("viewer-1", ["viewer"]);
    proxy = await startKubeProxy(testCluster.kubeconfig);
    tagging = await startTaggingFixture([
      {
        arn: `arn:aws:rds:eu-west-1:123456789012:db:${ns.name}-orders`,
        tags: { "wheelhouse:service": "web", "wheelhouse:namespace": ns.name, Name: "orders" },
      },
      { arn: "arn:aws:s3:::unrelated-bucket", tags: {} },
    ]);
    grafana = await startGrafanaFixture(GRAFANA_TOKEN, [
      datasource(1, `prom-${ns.name}`, dsName, "prometheus", "http://prometheus:9090"),
    ]);
    const destination = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    service = createContextService({
      store: gw.store,
      nc: gw.nc,
      logger: createLogger({ service: "context-test", level: "info", format: "json", destination }),
      kubeconfig: proxy.kubeconfig(),
      kube: { watchTimeoutSeconds: 6, maxBackoffMs: 2000 },
      aws: {
        region: "eu-west-1",
        endpoint: tagging.url,
        credentials: { accessKeyId: "AKIDCONTEXTTEST", secretAccessKey: "fixture-secret" },
        intervalMs: 60_000,
        timeoutMs: 1_000,
      },
      grafana: { url: grafana.url, token: GRAFANA_TOKEN, intervalMs: 60_000, timeoutMs: 1_000 },
      resyncMs: 5_000,
    });
    await createTestDeployment(ns.name, "web", { replicas: 1 });
    await service.start();
  });

  after(async () => {
    await service?.stop();
    await ns?.teardown();
    await proxy?.close();
    await tagging?.close();
    await grafana?.close();
    await gw?.stop();
  });

  it("shows a kubectl scale made outside Wheelhouse in GET /v1/context/services/{name} within 2 s", async () => {
    const first = await waitFor(
      "web in the service graph",
      async () => {
        const r = await serviceView("web");
        return r.status === 200 && r.body.replicas.ready === 1 && r.body.workloads.length === 1 ? r.body : null;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(first.namespace, ns.name);
    assert.deepEqual(first.images, ["registry.example.com/web:1.4.0"]);
    assert.deepEqual(
      first.workloads.map((w: { name: string }) => w.name),
      ["web"],
    );

    const started = Date.now();
    await kubectl(["scale", "deployment/web", `--namespace=${ns.name}`, "--replicas=3"]);
    await waitFor(
      "the new replica count in the API",
      async () => (await serviceView("web")).body.replicas?.desired === 3,
      {
        timeoutMs: 2_000,
      },
    );
    const took = Date.now() - started;
    assert.ok(took < 2_000, `took ${took} ms`);
    const missing = await api(`/v1/context/services/no-such-service?environment=${ns.name}`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.fix, /GET \/v1\/context\/services/);
    const bad = await api("/v1/context/services/Not_A_Name");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, "params.name");
    await waitFor("three ready replicas", async () => (await serviceView("web")).body.replicas?.ready === 3, {
      timeoutMs: 30_000,
    });
  });

  it("joins AWS resources (tagging API) and Grafana datasources to the service", async () => {
    const view = await waitFor(
      "web's database and datasource",
      async () => {
        const r = await serviceView("web");
        return r.body.depends_on?.length === 1 && r.body.observed_by?.length === 1 ? r.body : null;
      },
      { timeoutMs: 10_000 },
    );
    assert.equal(view.depends_on[0].kind, "cloud_resource");
    assert.equal(view.depends_on[0].attributes.arn, dbArn());
    assert.equal(view.depends_on[0].name, "orders");
    assert.equal(view.observed_by[0].name, dsName);
    assert.equal(view.observed_by[0].attributes.url, "http://prometheus:9090/");
    const call = tagging.getResourcesCalls()[0];
    assert.ok(call, "GetResources was called");
    assert.equal(call.headers["x-amz-target"], "ResourceGroupsTaggingAPI_20170126.GetResources");
    assert.match(
      String(call.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDCONTEXTTEST\/\d{8}\/eu-west-1\/tagging\//,
    );
    assert.equal((call.json as { ResourcesPerPage?: number }).ResourcesPerPage, 100);
    assert.equal(grafana.datasourceCalls()[0]?.headers.authorization, `Bearer ${GRAFANA_TOKEN}`);

    // The database goes away: the next poll removes the node and the edge.
    tagging.resources = tagging.resources.filter((r) => r.arn !== dbArn());
    await service.refreshContext({ source: "aws" });
    await waitFor("the edge removed", async () => (await serviceView("web")).body.depends_on?.length === 0, {
      timeoutMs: 5_000,
    });
  });

  it("resumes a dropped watch from its resourceVersion, with bookmarks, without listing again", async () => {
    await waitFor("watches open", () => proxy.watches(DEPLOYMENTS).length > 0);
    const lists = proxy.lists();
    const watchesBefore = proxy.watches(DEPLOYMENTS).length;
    assert.ok(proxy.dropWatches() > 0, "there were watches to drop");
    await kubectl(["scale", "deployment/web", `--namespace=${ns.name}`, "--replicas=2"]);
    await waitFor(
      "the change seen through the resumed watch",
      () => service.getServiceGraph({ name: "web", environment: ns.name })[0]?.replicas.desired === 2,
      { timeoutMs: 10_000 },
    );
    assert.equal(proxy.lists(), lists, "no list after the drop");
    const resumed = proxy.watches(DEPLOYMENTS).slice(watchesBefore);
    assert.ok(resumed.length > 0);
    // The server ends each watch on its timeout with a bookmark; the next watch starts from it.
    const bookmark = await waitFor(
      "a bookmark followed by a watch from it",
      () =>
        proxy.bookmarks.find((b) =>
          proxy.watches(b.path).some((w) => w.query.get("resourceVersion") === b.resourceVersion),
        ),
      // The API server sends it when a watch times out (6 s); a loaded machine delays that, not the rule.
      { timeoutMs: 45_000 },
    );
    assert.ok(bookmark.resourceVersion);
    for (const w of resumed) {
      assert.notEqual(w.query.get("resourceVersion") ?? "", "", "resumed from a resourceVersion");
      assert.equal(w.query.get("allowWatchBookmarks"), "true");
      assert.equal(w.query.get("timeoutSeconds"), "6");
    }
  });

  it("relists after a 410 Gone, and the relist records nothing that did not change", async () => {
    await waitFor("settled", async () => (await serviceView("web")).body.replicas?.ready === 2, { timeoutMs: 30_000 });
    const recorded = await eventsOfNamespace();
    const lists = proxy.lists(DEPLOYMENTS);
    proxy.goneNextWatch(DEPLOYMENTS);
    proxy.dropWatches();
    await waitFor("a relist of deployments", () => proxy.lists(DEPLOYMENTS) === lists + 1, { timeoutMs: 10_000 });
    await withDeadline("a full pass", service.refreshContext(), 30_000);
    assert.equal(await eventsOfNamespace(), recorded, "no context event for this namespace's unchanged nodes");
    await kubectl(["scale", "deployment/web", `--namespace=${ns.name}`, "--replicas=1"]);
    await waitFor("a change after the relist", async () => (await serviceView("web")).body.replicas?.desired === 1, {
      timeoutMs: 5_000,
    });
  });

  it("shows a Helm upgrade's new chart revision, with the release as the owner", async () => {
    const release = uniqueKubeName("tiny");
    const helm = (...args: string[]) =>
      execa(testCluster.helm, [...args, `--namespace=${ns.name}`, `--kubeconfig=${testCluster.kubeconfig}`]);
    const chart = join(ROOT, "test", "fixtures", "charts", "tiny");
    await helm("install", release, chart);
    const v1 = await waitFor(
      "the release in the graph",
      async () => {
        const r = await serviceView("tiny");
        // Node and edges are separate events: wait for both.
        // Helm records the release as pending-install first, then deployed: wait for the settled one.
        return r.body.chart?.revision === 1 && r.body.chart.status === "deployed" && r.body.owners?.length === 1
          ? r.body
          : null;
      },
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(
      { release: v1.chart.release, name: v1.chart.name, version: v1.chart.version, status: v1.chart.status },
      { release, name: "tiny", version: "0.1.0", status: "deployed" },
    );
    assert.equal(v1.owners[0].kind, "release");
    await helm("upgrade", release, chart, "--set=replicaCount=2");
    const v2 = await waitFor(
      "revision 2",
      async () => {
        const r = await serviceView("tiny");
        // Helm records the new revision as pending-upgrade first; the graph shows that too.
        const owner = r.body.owners?.[0]?.attributes;
        return r.body.chart?.revision === 2 && r.body.chart.status === "deployed" && owner?.revision === 2
          ? r.body
          : null;
      },
      { timeoutMs: 15_000 },
    );
    assert.notEqual(v2.owners[0].attributes.values_digest, v1.owners[0].attributes.values_digest);
    await waitFor(
      "two replicas from the new values",
      async () => (await serviceView("tiny")).body.replicas?.desired === 2,
    );
  });

  it("shows an Argo CD Application with its sync status and health as the service's owner", async () => {
    const app = uniqueKubeName("shop");
    const application = (sync: unknown) => ({
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Application",
      metadata: { name: app, namespace: ns.name },
      spec: {
        project: "default",
        source: { repoURL: "https://git.example.com/shop.git", path: "api", targetRevision: "main" },
        destination: { server: "https://kubernetes.default.svc", namespace: ns.name },
      },
      status: { sync, health: { status: "Healthy" } },
    });
    await kubectl(["apply", "--filename=-"], {
      input: JSON.stringify(application({ status: "Synced", revision: "4f2a9c1" })),
    });
    await createTestDeployment(ns.name, "api", { replicas: 1, labels: { "argocd.argoproj.io/instance": app } });
    const view = await waitFor(
      "the application",
      async () => {
        const r = await serviceView("api");
        return r.body.application?.sync_status === "Synced" && r.body.owners?.length === 1 ? r.body : null;
      },
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(view.application, { name: app, sync_status: "Synced", health: "Healthy", revision: "4f2a9c1" });
    assert.equal(view.owners[0].kind, "application");
    assert.equal(view.owners[0].attributes.destination.namespace, ns.name);

    await kubectl(["apply", "--filename=-"], {
      input: JSON.stringify(application({ status: "OutOfSync", revision: "77b0e3d" })),
    });
    await waitFor("OutOfSync", async () => (await serviceView("api")).body.application?.sync_status === "OutOfSync", {
      timeoutMs: 10_000,
    });

    // A malformed one (status.sync is not an object) is logged and counted, and changes nothing else.
    await kubectl(["apply", "--filename=-"], {
      input: JSON.stringify({ ...application("oops"), metadata: { name: `${app}-bad`, namespace: ns.name } }),
    });
    const health = await waitFor(
      "the malformed object in the health",
      () => service.health().sources.argocd?.malformed,
    );
    assert.ok(health.count >= 1);
    assert.ok(
      health.examples.some((e) => e.includes(`${app}-bad`) && e.includes("status.sync")),
      health.examples.join("; "),
    );
    assert.ok(
      logLines.some((l) => l.includes("malformed") && l.includes(`${app}-bad`)),
      "a log line names it",
    );
    assert.equal((await serviceView("api")).body.application?.sync_status, "OutOfSync");
  });

  it("answers GetServiceGraph, RefreshContext and /readyz over its RPC transport", async () => {
    const transport = createContextTransport(service, createLogger({ service: "context-test", level: "silent" }));
    const url = await transport.start({ host: "127.0.0.1", port: 0 });
    try {
      const rpc = async (method: string, body: unknown) => {
        const res = await fetch(`${url}/rpc/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const graph = await rpc("GetServiceGraph", { name: "web", environment: ns.name });
      assert.equal(graph.status, 200);
      assert.equal((graph.body.services as { namespace: string }[])[0]?.namespace, ns.name);
      const refreshed = await rpc("RefreshContext", { source: "grafana" });
      assert.equal(refreshed.status, 200);
      assert.equal(refreshed.body.source, "grafana");
      const bad = await rpc("RefreshContext", { source: "vault" });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, "body.source");
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200);
      const health = (await ready.json()) as { status: string; summary: string; sources: Record<string, unknown> };
      assert.deepEqual(Object.keys(health.sources).sort(), ["argocd", "aws", "grafana", "helm", "kubernetes"]);
      assert.equal(health.status, "ok", health.summary);
    } finally {
      await transport.stop();
    }
  });

  it("an unreachable API server and a poller timeout show in the health, with the graph kept", async () => {
    proxy.setDown(true);
    proxy.dropWatches();
    const down = await waitFor(
      "kubernetes in error",
      () => {
        const h = service.health().sources.kubernetes;
        return h?.status === "error" ? h : null;
      },
      { timeoutMs: 15_000 },
    );
    assert.match(down.error ?? "", /ECONNRESET|socket hang up|ECONNREFUSED|other side closed|UND_ERR_SOCKET/i);
    assert.match(service.health().summary, /^degraded: kubernetes error/);
    assert.ok(
      logLines.some((l) => l.includes("the graph keeps what it last saw")),
      "a clear log line",
    );
    assert.equal((await serviceView("web")).status, 200, "the recorded graph is still served");

    tagging.mode = "hang";
    await service.refreshContext({ source: "aws" });
    const aws = service.health().sources.aws;
    assert.equal(aws?.status, "error");
    assert.match(aws?.error ?? "", /no answer within 1000 ms \(poll timeout\)/);

    proxy.setDown(false);
    tagging.mode = "ok";
    await service.refreshContext({ source: "aws" });
    await waitFor("kubernetes reachable again", () => service.health().sources.kubernetes?.status === "ok", {
      timeoutMs: 15_000,
    });
    assert.equal(service.health().sources.aws?.status, "ok");
    await kubectl(["scale", "deployment/web", `--namespace=${ns.name}`, "--replicas=2"]);
    await waitFor("changes flow again", async () => (await serviceView("web")).body.replicas?.desired === 2, {
      timeoutMs: 10_000,
    });
  });
});

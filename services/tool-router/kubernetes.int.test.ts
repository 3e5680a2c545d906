/**
 * CLI first, API when the CLI is missing: with no kubectl on the tool PATH, the router runs the
 * catalog's `api_fallback` kubectl actions through the Kubernetes API (client-node) against the
 * local cluster, with the same inputs, kubectl's output, the same events and evidence, and
 * `via: "api"`; the actions without an API path are refused, naming those that have one.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { findExecutable, loadCatalog } from "../../lib/tools/index.ts";
import {
  createTestDeployment,
  createTestNamespace,
  createTestNode,
  deploymentManifest,
  kubectl,
  kubeGet,
  type TestNamespace,
  type TestNode,
  testCluster,
  waitFor,
} from "../../test/support/index.ts";
import { createKubernetesApi } from "./kubernetes.ts";
import { createToolRouter, type ToolRouter, type ToolRouterEvent } from "./router.ts";

describe("kubectl off the PATH: the Kubernetes API fallback against the local cluster", () => {
  let dir: string;
  let ns: TestNamespace;
  let node: TestNode;
  let router: ToolRouter;
  const events: ToolRouterEvent[] = [];
  const evidence: { kind: string; blob: Record<string, unknown> }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-kubeapi-"));
    ns = await createTestNamespace("wh-kubeapi");
    node = await createTestNode("wh-kubeapi");
    await createTestDeployment(ns.name, "web", { replicas: 2 });
    // An empty folder is the whole tool PATH: no kubectl (nor the machine's /usr/bin one).
    const toolPath = join(dir, "bin");
    router = createToolRouter({
      catalog: loadCatalog(),
      runInSandbox: async () => assert.fail("the CLI path must not be used when kubectl is missing"),
      isInstalled: async (binary) => (await findExecutable(binary, toolPath)) !== null,
      apis: { kubectl: createKubernetesApi({ kubeconfig: testCluster.kubeconfig }) },
      onEvent: (e) => {
        events.push(e);
      },
      storeEvidence: async (kind, blob) => {
        evidence.push({ kind, blob: JSON.parse(Buffer.from(blob).toString("utf8")) });
        return { evidence_id: `ev-${evidence.length}`, sha256: "0".repeat(64) };
      },
    });
  });
  after(async () => {
    await node.teardown();
    await ns.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  const web = () => kubeGet("deployment/web", `--namespace=${ns.name}`);
  const deployment = () => ({ kind: "deployment", name: "web", namespace: ns.name });
  const exec = (action_id: string, input: Record<string, unknown>, dry_run = false) =>
    router.executeTool({ action_id, input, dry_run, execution_id: "ex-api", step_id: "s1" });

  it("ListTools says which kubectl actions run via the API and which cannot run at all", async () => {
    const { tools } = await router.listTools();
    const via = Object.fromEntries(tools.filter((t) => t.tool === "kubectl").map((t) => [t.action, t.via]));
    assert.deepEqual(via, {
      annotate: "api",
      apply: null,
      cordon: "api",
      describe: null,
      drain: null,
      get: "api",
      get_objects: null,
      logs: null,
      rollout_restart: "api",
      rollout_status: "api",
      rollout_undo: null,
      scale: "api",
      uncordon: "api",
    });
    assert.ok(tools.every((t) => t.tool !== "kubectl" || t.installed === false));
  });

  it("get prints what kubectl -o json/yaml/name prints, from the API", async () => {
    const one = await exec("kubectl.get", deployment());
    assert.equal(one.status, "succeeded", one.stderr.text);
    assert.equal(one.via, "api");
    const live = await web();
    const read = JSON.parse(one.stdout.text);
    assert.equal(read.metadata.uid, live?.metadata.uid);
    assert.equal(read.spec.replicas, live?.spec.replicas);
    assert.match(
      read.metadata.creationTimestamp,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
      "RFC 3339, as the API serves it",
    );
    assert.deepEqual(one.argv, ["GET", `${one.binary}`]);
    assert.match(
      one.binary,
      new RegExp(`^https://127\\.0\\.0\\.1:\\d+/apis/apps/v1/namespaces/${ns.name}/deployments/web$`),
    );
    assert.deepEqual(one.request, { method: "GET", url: one.binary });

    const pods = await exec("kubectl.get", {
      kind: "pod",
      namespace: ns.name,
      label_selector: "app.kubernetes.io/name=web",
    });
    const list = JSON.parse(pods.stdout.text);
    assert.equal(list.kind, "List");
    assert.equal(list.items.length, 2);
    assert.equal(list.items[0].kind, "Pod");
    assert.equal((await exec("kubectl.get", { ...deployment(), output: "name" })).stdout.text, "deployment.apps/web");
    assert.match((await exec("kubectl.get", { ...deployment(), output: "yaml" })).stdout.text, /^kind: Deployment$/m);

    const missing = await exec("kubectl.get", { ...deployment(), name: "missing" });
    assert.equal(missing.status, "failed");
    assert.equal(missing.stderr.text, 'Error from server (NotFound): deployments.apps "missing" not found');
  });

  it("scale: server dry run, the precondition, the change; rollout status watches it complete", async () => {
    const dry = await exec("kubectl.scale", { ...deployment(), replicas: 5 }, true);
    assert.equal(dry.stdout.text, "deployment.apps/web scaled (server dry run)");
    assert.deepEqual(dry.dry_run, { diff: dry.stdout.text });
    assert.equal((await web())?.spec.replicas, 2);

    const scaled = await exec("kubectl.scale", { ...deployment(), replicas: 3, current_replicas: 2 });
    assert.equal(scaled.status, "succeeded", scaled.stderr.text);
    assert.equal(scaled.stdout.text, "deployment.apps/web scaled");
    assert.equal(scaled.request?.method, "PATCH");
    assert.equal((await web())?.spec.replicas, 3);

    const stale = await exec("kubectl.scale", { ...deployment(), replicas: 1, current_replicas: 2 });
    assert.equal(stale.status, "failed");
    assert.equal(stale.stderr.text, "error: Expected replicas to be 2, was 3");
    assert.equal((await web())?.spec.replicas, 3);

    const status = await exec("kubectl.rollout_status", { ...deployment(), timeout_seconds: 60 });
    assert.equal(status.status, "succeeded", status.stderr.text);
    assert.equal(status.stdout.text.split("\n").at(-1), 'deployment "web" successfully rolled out');
    assert.equal((await web())?.status.readyReplicas, 3);
  });

  it("rollout restart changes the pod template as kubectl does; rollout status follows the new pods", async () => {
    const restarted = await exec("kubectl.rollout_restart", deployment());
    assert.equal(restarted.stdout.text, "deployment.apps/web restarted");
    const at = (await web())?.spec.template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"];
    assert.match(at ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const status = await exec("kubectl.rollout_status", { ...deployment(), timeout_seconds: 60 });
    assert.equal(status.status, "succeeded", status.stderr.text);
    assert.equal(status.stdout.text.split("\n").at(-1), 'deployment "web" successfully rolled out');
    const live = await web();
    assert.equal(live?.status.updatedReplicas, 3);
    assert.equal(live?.metadata.annotations?.["deployment.kubernetes.io/revision"], "2");
  });

  it("annotate sets annotations, and with overwrite false refuses to change one as kubectl does", async () => {
    const r = await exec("kubectl.annotate", { ...deployment(), annotations: { "wheelhouse.dev/plan": "p-7" } });
    assert.equal(r.stdout.text, "deployment.apps/web annotated");
    assert.equal((await web())?.metadata.annotations?.["wheelhouse.dev/plan"], "p-7");
    const kept = await exec("kubectl.annotate", {
      ...deployment(),
      annotations: { "wheelhouse.dev/plan": "p-8" },
      overwrite: false,
    });
    assert.equal(kept.status, "failed");
    assert.match(
      kept.stderr.text,
      /--overwrite is false but found .*'wheelhouse.dev\/plan' already has a value \(p-7\)/,
    );
    assert.equal((await web())?.metadata.annotations?.["wheelhouse.dev/plan"], "p-7");
  });

  it("cordon and uncordon a node of the test's own", async () => {
    const unschedulable = async () => (await kubeGet(`node/${node.name}`))?.spec.unschedulable === true;
    assert.equal(
      (await exec("kubectl.cordon", { node: node.name }, true)).stdout.text,
      `node/${node.name} cordoned (server dry run)`,
    );
    assert.equal(await unschedulable(), false);
    assert.equal((await exec("kubectl.cordon", { node: node.name })).stdout.text, `node/${node.name} cordoned`);
    assert.equal(await unschedulable(), true);
    assert.equal((await exec("kubectl.cordon", { node: node.name })).stdout.text, `node/${node.name} already cordoned`);
    assert.equal((await exec("kubectl.uncordon", { node: node.name })).stdout.text, `node/${node.name} uncordoned`);
    assert.equal(await unschedulable(), false);
  });

  it("rollout status waits on the watch while pods cannot run, gives up at its timeout, and sees them run", async () => {
    // Pinned to a cordoned node: the new Deployment's pods stay Pending until the node takes pods.
    await exec("kubectl.cordon", { node: node.name });
    try {
      await kubectl(["create", "--filename=-"], {
        input: JSON.stringify(deploymentManifest(ns.name, "pinned", { replicas: 2, node: node.name })),
      });
      const pinned = { kind: "deployment", name: "pinned", namespace: ns.name };
      const gaveUp = await exec("kubectl.rollout_status", { ...pinned, timeout_seconds: 2 });
      assert.equal(gaveUp.status, "failed");
      assert.equal(gaveUp.stderr.text, "error: timed out waiting for the condition");
      assert.match(
        gaveUp.stdout.text,
        /^Waiting for deployment "pinned" rollout to finish: 0 of 2 updated replicas are available\.\.\.$/m,
      );

      const waiting = exec("kubectl.rollout_status", { ...pinned, timeout_seconds: 60 });
      await waitFor("the second status call to start watching", () =>
        events.some(
          (e) =>
            e.type === "tool_call.started" &&
            e.payload.action_id === "kubectl.rollout_status" &&
            e.payload.tool_call_id !== gaveUp.tool_call_id &&
            e.payload.argv[1]?.includes("/deployments?watch=true"),
        ),
      );
      await exec("kubectl.uncordon", { node: node.name });
      const done = await waiting;
      assert.equal(done.status, "succeeded", done.stderr.text);
      const lines = done.stdout.text.split("\n");
      assert.match(lines[0] ?? "", /^Waiting for deployment "pinned" rollout to finish/);
      assert.equal(lines.at(-1), 'deployment "pinned" successfully rolled out');
    } finally {
      await exec("kubectl.uncordon", { node: node.name });
    }
  });

  it("records the same events and evidence as the CLI path, with via: api and the request made", async () => {
    events.length = 0;
    evidence.length = 0;
    const r = await router.executeTool({
      action_id: "kubectl.scale",
      input: { ...deployment(), replicas: 2 },
      execution_id: "ex-api",
      step_id: "s2",
      tool_call_id: "tc-api-scale",
    });
    assert.deepEqual(
      events.map((e) => e.type),
      ["tool_call.started", "tool_call.output", "tool_call.completed"],
    );
    const [started, , completed] = events;
    assert.ok(started?.type === "tool_call.started" && completed?.type === "tool_call.completed");
    assert.equal(started.payload.via, "api");
    assert.deepEqual(started.payload.argv, ["PATCH", r.binary]);
    assert.equal(completed.payload.via, "api");
    assert.equal(completed.payload.status, "succeeded");
    assert.equal(completed.payload.exit_code, 0);
    assert.equal(evidence.length, 1);
    assert.equal(evidence[0]?.kind, "tool_output");
    assert.deepEqual(Object.keys(evidence[0]?.blob ?? {}).sort(), [
      "action_id",
      "argv",
      "binary",
      "exit_code",
      "stderr",
      "stdout",
      "tool_call_id",
      "truncated",
      "via",
    ]);
    assert.equal(evidence[0]?.blob.via, "api");
    assert.equal(evidence[0]?.blob.stdout, "deployment.apps/web scaled");
    assert.equal((await web())?.spec.replicas, 2);
  });

  it("refuses the actions without an API path, naming the ones that have one, and runs nothing", async () => {
    const before = await web();
    for (const [action, input] of [
      ["kubectl.describe", deployment()],
      ["kubectl.rollout_undo", deployment()],
      ["kubectl.logs", deployment()],
      ["kubectl.drain", { node: node.name }],
    ] as const) {
      await assert.rejects(exec(action, input), (e: unknown) => {
        const err = e as { code?: string; message: string; fix?: string };
        assert.equal(err.code, "unavailable", action);
        assert.match(err.message, /kubectl is not installed/);
        assert.match(
          err.fix ?? "",
          new RegExp(`${action.replace(".", "\\.")} has no API path \\(only kubectl\\.annotate, .*kubectl\\.get`),
        );
        return true;
      });
    }
    assert.equal((await web())?.metadata.resourceVersion, before?.metadata.resourceVersion);
    assert.equal(await kubeGet(`node/${node.name}`).then((n) => n?.spec.unschedulable), undefined);
  });
});

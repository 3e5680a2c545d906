/**
 * kubectl.apply and its rollback through the router, against the local cluster: GetResource reads
 * the live objects the manifest names, stores them as an artifact in the object store (MinIO) and
 * answers the rollback call; the apply changes the cluster; the rollback, read back from the
 * object store and checked like any artifact, puts every field back.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createArtifactStore, findExecutable, loadCatalog } from "../../lib/tools/index.ts";
import {
  clusterToolPath,
  createTestDeployment,
  createTestGitRepo,
  createTestNamespace,
  kubeGet,
  minioClient,
  removeBuckets,
  type TestNamespace,
  testCluster,
  testEnv,
  uniqueBucketName,
} from "../../test/support/index.ts";
import { createToolRouter, type ToolRouter } from "./router.ts";
import { createSandboxProcessRunner } from "./spawn.ts";

describe("kubectl.apply, rolled back from the live objects GetResource stored (cluster, MinIO)", () => {
  let dir: string;
  let ns: TestNamespace;
  let router: ToolRouter;
  const bucket = uniqueBucketName("apply-rollback");
  const minio = minioClient();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-apply-"));
    ns = await createTestNamespace("wh-apply");
    await createTestDeployment(ns.name, "web", { replicas: 2 });
    const toolPath = clusterToolPath();
    router = createToolRouter({
      catalog: loadCatalog(),
      runInSandbox: createSandboxProcessRunner({
        env: {
          PATH: toolPath,
          HOME: dir,
          KUBECONFIG: testCluster.kubeconfig,
          WH_TEST_S3_ACCESS: testEnv.minio.accessKey,
          WH_TEST_S3_SECRET: testEnv.minio.secretKey,
          WHEELHOUSE_TOOLS__ENV_ALLOW: "[PATH, HOME, KUBECONFIG]",
        },
        objectStore: {
          endpoint: testEnv.minioUrl,
          access_key: "env:WH_TEST_S3_ACCESS",
          secret_key: "env:WH_TEST_S3_SECRET",
        },
        allowFileRepos: true,
      }),
      isInstalled: async (binary) => (await findExecutable(binary, toolPath)) !== null,
      artifacts: createArtifactStore({ client: minio, bucket }),
    });
  });
  after(async () => {
    await ns.teardown();
    await removeBuckets(minio, bucket);
    await rm(dir, { recursive: true, force: true });
  });

  const manifestRef = async (content: string) =>
    (await createTestGitRepo(join(dir, "deploys"))).commit("web.yaml", content);

  it("GetResource answers the rollback; the apply changes the cluster; the rollback puts it back", async () => {
    const manifest = [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata: { name: web, labels: { tier: frontend } }",
      "spec:",
      "  replicas: 5",
      "  selector: { matchLabels: { app.kubernetes.io/name: web } }",
      "  template:",
      "    metadata: { labels: { app.kubernetes.io/name: web } }",
      "    spec: { containers: [{ name: app, image: registry.example.com/web:1.5.0 }] }",
      "",
    ].join("\n");
    const input = { namespace: ns.name, manifest_ref: await manifestRef(manifest), force_conflicts: true };
    const web = () => kubeGet("deployment/web", `--namespace=${ns.name}`);
    const before = await web();

    const resource = await router.getResource({ action_id: "kubectl.apply", input, execution_id: "ex-apply" });
    assert.equal(resource.read?.action_id, "kubectl.get_objects");
    assert.equal(resource.read?.status, "succeeded");
    const live = resource.state as { kind?: string; spec?: { replicas?: number } };
    assert.equal(live.kind, "Deployment", "one object named: kubectl prints it alone, not in a List");
    assert.equal(live.spec?.replicas, 2);
    const rollback = resource.rollback;
    assert.ok(rollback, "a rollback was made from the live objects");
    assert.equal(rollback.action_id, "kubectl.apply");
    assert.equal(rollback.input.force_conflicts, true);
    assert.match(rollback.note ?? "", /not deleted/);
    const ref = rollback.input.manifest_ref as { kind: string; bucket: string; key: string; sha256: string };
    assert.equal(ref.kind, "object_store");
    assert.equal(ref.bucket, bucket);
    const stored = JSON.parse(await (await minio.getObject(bucket, ref.key)).toArray().then((c) => c.join("")));
    assert.equal(stored.items[0].spec.replicas, 2, "the stored state is the one before the change");
    assert.equal(stored.items[0].status, undefined);
    assert.equal(stored.items[0].metadata.resourceVersion, undefined);

    const applied = await router.executeTool({ action_id: "kubectl.apply", input, execution_id: "ex-apply" });
    assert.equal(applied.status, "succeeded", applied.stderr.text);
    const after = await web();
    assert.equal(after?.spec.replicas, 5);
    assert.equal(after?.metadata.labels?.tier, "frontend");
    assert.equal(after?.spec.template.spec.containers[0].image, "registry.example.com/web:1.5.0");

    const undone = await router.executeTool({ ...rollback, execution_id: "ex-apply" });
    assert.equal(undone.status, "succeeded", undone.stderr.text);
    const restored = await web();
    assert.equal(restored?.spec.replicas, before?.spec.replicas);
    assert.equal(restored?.metadata.labels?.tier, undefined, "a field only the apply set is gone again");
    assert.equal(restored?.spec.template.spec.containers[0].image, before?.spec.template.spec.containers[0].image);
  });
});

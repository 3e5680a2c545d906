/**
 * Every kubectl and helm action of the catalog, run for real: the builders' argv through the
 * sandbox, with the kubectl and helm built for the local cluster, against it (a namespace, nodes
 * and a Helm release of the test's own; the shop-* namespaces and kwok-node-0 are never touched).
 * The last kubectl/helm test checks that no action of theirs went unexercised. aws and gh have no
 * local server: they must parse the argv and stop at missing credentials.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import {
  clusterToolPath,
  createTestDeployment,
  createTestGitRepo,
  createTestNamespace,
  createTestNode,
  type KubeObjectJson,
  kubectl,
  kubeGet,
  type LogServingNode,
  startLogServingNode,
  type TestGitRepo,
  type TestNamespace,
  type TestNode,
  testCluster,
  waitFor,
} from "../../test/support/index.ts";
import { ValidationError } from "../errors/index.ts";
import {
  ArtifactIntegrityError,
  type ArtifactRef,
  createArtifactResolver,
  createSandbox,
  createToolExecutor,
  loadCatalog,
  type ToolCallOutcome,
  type ToolExecutor,
} from "./index.ts";

const CHARTS = fileURLToPath(new URL("../../test/fixtures/charts", import.meta.url));
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("every kubectl and helm action of the catalog, against the local cluster", { timeout: 300_000 }, () => {
  const catalog = loadCatalog();
  const ran = new Set<string>();
  let dir: string;
  let repo: TestGitRepo;
  let ns: TestNamespace;
  let executor: ToolExecutor;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-realbin-"));
    ns = await createTestNamespace("wh-realbin");
    await createTestDeployment(ns.name, "web", { replicas: 2 });
    executor = createToolExecutor({
      catalog,
      sandbox: createSandbox({
        envAllow: ["PATH", "HOME", "KUBECONFIG"],
        hostEnv: { PATH: clusterToolPath(), HOME: dir, KUBECONFIG: testCluster.kubeconfig },
        defaultTimeoutMs: 120_000,
      }),
      artifacts: createArtifactResolver({ allowFileRepos: true }),
      allowedRoots: [CHARTS],
    });
    repo = await createTestGitRepo(join(dir, "deploys"));
  });
  after(async () => {
    await ns.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  /** Commits `content` at `path` in the test's git repository and names it as a checked artifact. */
  const artifact = (path: string, content: string): Promise<ArtifactRef> => repo.commit(path, content);

  async function run(actionId: string, input: Record<string, unknown>, dryRun = false): Promise<ToolCallOutcome> {
    ran.add(actionId);
    return executor.execute({ tool_call_id: "t", action_id: actionId, input, dry_run: dryRun });
  }
  const succeeded = (r: ToolCallOutcome) => {
    assert.equal(r.ok, true, `${r.argv.join(" ")} exited ${r.exit_code}: ${r.stderr.text}`);
    return r;
  };
  const web = () => kubeGet("deployment/web", `--namespace=${ns.name}`);
  const inNs = (input: Record<string, unknown>) => ({ ...input, namespace: ns.name });

  it("kubectl get and describe read the cluster", async () => {
    const get = succeeded(await run("kubectl.get", inNs({ kind: "deployment", name: "web" })));
    assert.equal(get.binary, testCluster.kubectl, "the kubectl built for the cluster, not the machine's");
    assert.equal(JSON.parse(get.stdout.text).spec.replicas, 2);
    const pods = succeeded(
      await run("kubectl.get", inNs({ kind: "pod", label_selector: "app.kubernetes.io/name=web" })),
    );
    assert.equal(JSON.parse(pods.stdout.text).items.length, 2);
    const described = succeeded(await run("kubectl.describe", inNs({ kind: "deployment", name: "web" })));
    assert.match(described.stdout.text, /^Name:\s+web$/m);
    assert.match(described.stdout.text, /^Replicas:\s+2 desired/m);
  });

  it("kubectl logs reads a pod's log through the API server (from a node whose kwok serves logs)", async () => {
    // The stack's kwok node serves no logs (its pods answer "connection refused"); a node of our own does.
    let logs: LogServingNode | undefined;
    try {
      logs = await startLogServingNode(dir, ns.name);
      await createTestDeployment(ns.name, "logger", { replicas: 1, node: logs.name });
      const r = succeeded(await run("kubectl.logs", inNs({ kind: "deployment", name: "logger", tail_lines: 2 })));
      assert.deepEqual(r.stdout.text.split("\n"), logs.lines.slice(-2));
    } finally {
      await kubectl(["delete", "deployment", "logger", `--namespace=${ns.name}`, "--ignore-not-found=true"]);
      await logs?.stop();
    }
  });

  it("kubectl scale: a server dry run changes nothing; the precondition is kept; rollout status waits", async () => {
    const dry = succeeded(await run("kubectl.scale", inNs({ kind: "deployment", name: "web", replicas: 5 }), true));
    assert.equal(dry.stdout.text, "deployment.apps/web scaled (server dry run)");
    assert.equal((await web())?.spec.replicas, 2);
    succeeded(await run("kubectl.scale", inNs({ kind: "deployment", name: "web", replicas: 3, current_replicas: 2 })));
    assert.equal((await web())?.spec.replicas, 3);
    const stale = await run(
      "kubectl.scale",
      inNs({ kind: "deployment", name: "web", replicas: 1, current_replicas: 2 }),
    );
    assert.equal(stale.ok, false, "the precondition no longer holds");
    assert.match(stale.stderr.text, /Expected replicas to be 2, was 3/);
    assert.equal((await web())?.spec.replicas, 3);
    const status = succeeded(
      await run("kubectl.rollout_status", inNs({ kind: "deployment", name: "web", timeout_seconds: 60 })),
    );
    assert.match(status.stdout.text, /deployment "web" successfully rolled out/);
  });

  it("kubectl annotate: dry run, then for real", async () => {
    const input = inNs({ kind: "deployment", name: "web", annotations: { "wheelhouse.dev/plan": "p-1" } });
    succeeded(await run("kubectl.annotate", input, true));
    assert.equal((await web())?.metadata.annotations?.["wheelhouse.dev/plan"], undefined);
    const r = succeeded(await run("kubectl.annotate", input));
    assert.equal(r.stdout.text, "deployment.apps/web annotated");
    assert.equal((await web())?.metadata.annotations?.["wheelhouse.dev/plan"], "p-1");
  });

  it("kubectl rollout restart makes a new revision; rollout undo (dry run, then for real) goes back", async () => {
    const deployment = inNs({ kind: "deployment", name: "web" });
    const revision = (d: KubeObjectJson | null) => d?.metadata.annotations?.["deployment.kubernetes.io/revision"];
    const restartedAt = (d: KubeObjectJson | null) =>
      d?.spec.template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"];
    const before = revision(await web());
    succeeded(await run("kubectl.rollout_restart", deployment));
    succeeded(await run("kubectl.rollout_status", { ...deployment, timeout_seconds: 60 }));
    const restarted = await web();
    assert.ok(restartedAt(restarted), "the pod template carries the restart");
    assert.equal(Number(revision(restarted)), Number(before) + 1);

    succeeded(await run("kubectl.rollout_undo", deployment, true));
    assert.equal(revision(await web()), revision(restarted), "the dry run changed nothing");
    const undone = succeeded(await run("kubectl.rollout_undo", deployment));
    assert.equal(undone.stdout.text, "deployment.apps/web rolled back");
    succeeded(await run("kubectl.rollout_status", { ...deployment, timeout_seconds: 60 }));
    assert.equal(restartedAt(await web()), undefined, "back to the template before the restart");
  });

  it("kubectl apply of a checked manifest: get_objects reads what it names, the server-side diff previews it", async () => {
    const manifest = [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata: { name: web, labels: { tier: frontend } }",
      "spec:",
      "  replicas: 4",
      "  selector: { matchLabels: { app.kubernetes.io/name: web } }",
      "  template:",
      "    metadata: { labels: { app.kubernetes.io/name: web } }",
      "    spec: { containers: [{ name: app, image: registry.example.com/web:1.4.0 }] }",
      "---",
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata: { name: web-flags }",
      "data: { checkout_v2: 'true' }",
      "",
    ].join("\n");
    const input = inNs({ manifest_ref: await artifact("web.yaml", manifest) });

    const live = succeeded(await run("kubectl.get_objects", input));
    const objects = JSON.parse(live.stdout.text) as { kind: string; items?: KubeObjectJson[] };
    assert.deepEqual(
      (objects.items ?? [objects as unknown as KubeObjectJson]).map((o) => o.metadata.name),
      ["web"],
      "the ConfigMap does not exist yet",
    );

    const diff = succeeded(await run("kubectl.apply", { ...input, force_conflicts: true }, true));
    assert.equal(diff.argv[1], "diff");
    assert.equal(diff.exit_code, 1, "kubectl diff exits 1 when the apply would change something");
    assert.match(diff.stdout.text, /^\+ {2}replicas: 4$/m);
    assert.match(diff.stdout.text, /^\+ {2}name: web-flags$/m);
    assert.equal((await web())?.spec.replicas, 3, "a diff changes nothing");

    // `kubectl scale` owns spec.replicas: server-side apply will not take it without force_conflicts.
    const conflict = await run("kubectl.apply", input);
    assert.equal(conflict.ok, false);
    assert.match(conflict.stderr.text, /conflict/i);
    assert.equal((await web())?.spec.replicas, 3);

    succeeded(await run("kubectl.apply", { ...input, force_conflicts: true }));
    const applied = await web();
    assert.equal(applied?.spec.replicas, 4);
    assert.equal(applied?.metadata.labels?.tier, "frontend");
    assert.equal((await kubeGet("configmap/web-flags", `--namespace=${ns.name}`))?.data.checkout_v2, "true");
  });

  it("kubectl apply refuses a manifest that reaches beyond its step, or whose checksum changed, before anything runs", async () => {
    const secret = "apiVersion: v1\nkind: Secret\nmetadata: { name: db }\nstringData: { password: hunter2 }\n";
    await assert.rejects(
      run("kubectl.apply", inNs({ manifest_ref: await artifact("secret.yaml", secret) })),
      (e: unknown) => e instanceof ValidationError && e.field === "input.manifest_ref" && /Secret db/.test(e.message),
    );
    const other = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x, namespace: kube-system }\n";
    await assert.rejects(
      run("kubectl.apply", inNs({ manifest_ref: await artifact("other.yaml", other) })),
      (e: unknown) => e instanceof ValidationError && /namespace kube-system/.test(e.message),
    );
    const ref = await artifact("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: tampered }\n");
    await assert.rejects(
      run("kubectl.apply", inNs({ manifest_ref: { ...ref, sha256: sha("what was approved") } })),
      (e: unknown) => e instanceof ArtifactIntegrityError && e.field === "input.manifest_ref.sha256",
    );
    assert.equal(await kubeGet("secret/db", `--namespace=${ns.name}`), null);
    assert.equal(await kubeGet("configmap/tampered", `--namespace=${ns.name}`), null);
  });

  describe("on a node of the test's own (never kwok-node-0)", () => {
    let node: TestNode;
    const unschedulable = async () => (await kubeGet(`node/${node.name}`))?.spec.unschedulable === true;
    const podsOnNode = async () =>
      (
        await kubeGet<{ items: KubeObjectJson[] }>(
          "pods",
          `--namespace=${ns.name}`,
          `--field-selector=spec.nodeName=${node.name}`,
        )
      )?.items.filter((p) => p.metadata.deletionTimestamp === undefined).length ?? 0;
    before(async () => {
      node = await createTestNode("wh-drain");
      await createTestDeployment(ns.name, "pinned", { replicas: 2, node: node.name });
    });
    after(async () => {
      await node.teardown();
    });

    it("kubectl cordon and uncordon (each with its dry run)", async () => {
      succeeded(await run("kubectl.cordon", { node: node.name }, true));
      assert.equal(await unschedulable(), false);
      succeeded(await run("kubectl.cordon", { node: node.name }));
      assert.equal(await unschedulable(), true);
      succeeded(await run("kubectl.uncordon", { node: node.name }, true));
      assert.equal(await unschedulable(), true);
      succeeded(await run("kubectl.uncordon", { node: node.name }));
      assert.equal(await unschedulable(), false);
    });

    it("kubectl drain evicts the node's pods (its dry run evicts none); uncordon, its rollback, takes pods again", async () => {
      assert.equal(await podsOnNode(), 2);
      const dry = succeeded(await run("kubectl.drain", { node: node.name, timeout_seconds: 60 }, true));
      assert.match(dry.stdout.text, /evicting pod|drained/);
      assert.equal(await unschedulable(), false, "a dry run cordons nothing");
      assert.equal(await podsOnNode(), 2, "and evicts nothing");

      const drained = succeeded(await run("kubectl.drain", { node: node.name, timeout_seconds: 60 }));
      assert.match(drained.stdout.text, new RegExp(`node/${node.name} drained`));
      assert.equal(await unschedulable(), true);
      await waitFor("the drained node to hold no pods", async () => (await podsOnNode()) === 0, { timeoutMs: 30_000 });

      succeeded(await run("kubectl.uncordon", { node: node.name }));
      await waitFor("the pinned pods to run on the node again", async () => (await podsOnNode()) === 2, {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
    });
  });

  it("helm template, upgrade (its server dry run, then for real), status, history, rollback and uninstall", async () => {
    const values = 'image:\n  tag: "2.0.0"\n';
    const chart = join(CHARTS, "tiny");
    const release = { release: "web-chart", namespace: ns.name };
    const template = succeeded(
      await run("helm.template", {
        ...release,
        chart,
        set: { replicaCount: 4 },
        values_ref: await artifact("web-values.yaml", values),
      }),
    );
    assert.match(template.argv.find((a) => a.startsWith("--values=")) ?? "", /artifacts\//);
    assert.match(template.stdout.text, /replicas: 4/);
    assert.match(template.stdout.text, /image: "registry.example.com\/web:2.0.0"/);

    const chartDeployment = () => kubeGet("deployment/web-chart", `--namespace=${ns.name}`);
    const preview = succeeded(await run("helm.upgrade_dry_run", { ...release, chart, install: true }));
    assert.ok(preview.argv.includes("--dry-run=server"));
    assert.match(preview.stdout.text, /kind: Deployment/);
    succeeded(await run("helm.upgrade", { ...release, chart, install: true, set: { replicaCount: 3 } }, true));
    assert.equal(await chartDeployment(), null, "neither dry run installed anything");

    const install = { ...release, chart, install: true, timeout_seconds: 120 };
    succeeded(await run("helm.upgrade", { ...install, set: { replicaCount: 2 } }));
    assert.equal((await chartDeployment())?.spec.replicas, 2);
    succeeded(await run("helm.upgrade", { ...install, set: { replicaCount: 3 } }));
    assert.equal((await chartDeployment())?.spec.replicas, 3);
    const status = JSON.parse(succeeded(await run("helm.status", release)).stdout.text);
    assert.equal(status.info.status, "deployed");
    assert.equal(status.version, 2);
    const history = JSON.parse(succeeded(await run("helm.history", { ...release, max: 5 })).stdout.text);
    assert.deepEqual(
      history.map((h: { revision: number }) => h.revision),
      [1, 2],
    );

    succeeded(await run("helm.rollback", { ...release, revision: 1, timeout_seconds: 120 }, true));
    assert.equal((await chartDeployment())?.spec.replicas, 3, "a rollback dry run changes nothing");
    succeeded(await run("helm.rollback", { ...release, revision: 1, timeout_seconds: 120 }));
    assert.equal((await chartDeployment())?.spec.replicas, 2);
    assert.equal(JSON.parse(succeeded(await run("helm.status", release)).stdout.text).version, 3);

    const dryUninstall = succeeded(await run("helm.uninstall", { ...release, timeout_seconds: 60 }, true));
    assert.match(dryUninstall.stdout.text, /uninstalled/i);
    assert.ok(await chartDeployment(), "the dry run deleted nothing");
    succeeded(await run("helm.uninstall", { ...release, timeout_seconds: 60 }));
    assert.equal(await chartDeployment(), null);
    const gone = await run("helm.status", release);
    assert.equal(gone.ok, false);
    assert.match(gone.stderr.text, /not found/);
  });

  it("no kubectl or helm action of the catalog went unexercised", () => {
    const expected = catalog
      .actions()
      .filter((a) => a.tool === "kubectl" || a.tool === "helm")
      .map((a) => a.id);
    assert.deepEqual(
      expected.filter((id) => !ran.has(id)),
      [],
    );
  });
});

describe("aws and gh (no local server): the real CLIs accept the built argv", () => {
  let dir: string;
  const catalog = loadCatalog();
  const has = (bin: string) =>
    ["/usr/bin", "/usr/local/bin", ...(process.env.PATH ?? "").split(":")].some((d) => existsSync(join(d, bin)));
  const PARSE_ERRORS = /unknown (flag|shorthand flag|command)|usage:|invalid argument|unrecognized arguments/i;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-realbin-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const executor = (extraPath: string[] = [], hostEnv: Record<string, string> = {}) =>
    createToolExecutor({
      catalog,
      sandbox: createSandbox({
        envAllow: ["PATH", "HOME", ...Object.keys(hostEnv)],
        hostEnv: { PATH: [...extraPath, "/usr/local/bin", "/usr/bin", "/bin"].join(":"), HOME: dir, ...hostEnv },
        defaultTimeoutMs: 60_000,
      }),
      artifacts: createArtifactResolver(),
    });
  it("aws parses the reads and writes (and stops at missing credentials)", {
    skip: !has("aws") && "aws missing",
  }, async () => {
    const ex = executor([dirname((await execa("bash", ["-c", "command -v aws"])).stdout), "/root/.pyenv/shims"], {
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      AWS_EC2_METADATA_DISABLED: "true",
      PYENV_ROOT: process.env.PYENV_ROOT ?? join(homedir(), ".pyenv"),
    });
    for (const [action, input] of [
      ["aws.sts_get_caller_identity", { region: "eu-west-1" }],
      ["aws.ecs_describe_services", { region: "eu-west-1", cluster: "main", services: ["checkout", "cart"] }],
      [
        "aws.ecs_update_service_desired_count",
        { region: "eu-west-1", cluster: "main", service: "checkout", desired_count: 3 },
      ],
      [
        "aws.autoscaling_set_desired_capacity",
        { region: "eu-west-1", group_name: "web-asg", desired_capacity: 2, honor_cooldown: false },
      ],
      ["aws.autoscaling_describe_groups", { region: "eu-west-1", group_names: ["web-asg"] }],
    ] as const) {
      const r = await ex.execute({ tool_call_id: "t", action_id: action, input });
      assert.notEqual(r.exit_code, 0, action);
      assert.doesNotMatch(r.stderr.text, PARSE_ERRORS, `${action}: ${r.stderr.text}`);
      assert.match(r.stderr.text, /Unable to locate credentials|credentials/i, `${action}: ${r.stderr.text}`);
    }
  });

  it("gh parses pr view and pr create (and stops at missing auth)", { skip: !has("gh") && "gh missing" }, async () => {
    const ex = executor([]);
    for (const [action, input] of [
      ["gh.pr_view", { repo: "acme/deploys", number: 42 }],
      [
        "gh.pr_create",
        {
          repo: "acme/deploys",
          base: "main",
          head: "wh/scale",
          title: "Scale checkout",
          body: "line 1\nline 2",
          draft: true,
        },
      ],
    ] as const) {
      const r = await ex.execute({ tool_call_id: "t", action_id: action, input });
      assert.notEqual(r.exit_code, 0, action);
      assert.doesNotMatch(r.stderr.text, PARSE_ERRORS, `${action}: ${r.stderr.text}`);
      assert.match(r.stderr.text, /gh auth login|GH_TOKEN/i, `${action}: ${r.stderr.text}`);
    }
  });
});

/**
 * The builders' argv against the real CLIs installed on this machine: they
 * must parse every flag we emit. Without a cluster or credentials, a call
 * that gets as far as "cannot connect" / "no credentials" proves the argv
 * was accepted; "unknown flag" or a usage error fails the test.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { createArtifactResolver, createSandbox, createToolExecutor, loadCatalog } from "./index.ts";

const CHARTS = fileURLToPath(new URL("../../test/fixtures/charts", import.meta.url));
const HELM = [
  join(process.cwd(), ".tools/bin/helm"),
  join(homedir(), ".cache/wheelhouse/tools/helm-v3.22.0/helm"),
].find((p) => existsSync(p));
const has = (bin: string) =>
  ["/usr/bin", "/usr/local/bin", ...(process.env.PATH ?? "").split(":")].some((d) => existsSync(join(d, bin)));
const PARSE_ERRORS = /unknown (flag|shorthand flag|command)|usage:|invalid argument|unrecognized arguments/i;

describe("real CLIs accept the built argv", () => {
  let dir: string;
  let kubeconfig: string;
  const catalog = loadCatalog();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-realbin-"));
    kubeconfig = join(dir, "kubeconfig");
    // A cluster nobody listens on: kubectl and helm get as far as dialing it.
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: none, cluster: {server: 'https://127.0.0.1:1'}}]",
        "users: [{name: none, user: {token: dummy}}]",
        "contexts: [{name: none, context: {cluster: none, user: none}}]",
        "current-context: none",
      ].join("\n"),
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const executor = (extraPath: string[] = [], hostEnv: Record<string, string> = {}) =>
    createToolExecutor({
      catalog,
      sandbox: createSandbox({
        envAllow: ["PATH", "HOME", "KUBECONFIG", ...Object.keys(hostEnv)],
        hostEnv: {
          PATH: [...extraPath, "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
          HOME: dir,
          KUBECONFIG: kubeconfig,
          ...hostEnv,
        },
        defaultTimeoutMs: 60_000,
      }),
      artifacts: createArtifactResolver({ allowFileRepos: true }),
      allowedRoots: [CHARTS],
    });

  it("kubectl create deployment --dry-run=client -o yaml renders for real", {
    skip: !has("kubectl") && "kubectl missing",
  }, async () => {
    const sandbox = createSandbox({ envAllow: ["PATH", "HOME"], hostEnv: { PATH: "/usr/bin:/bin", HOME: dir } });
    const result = await sandbox.run({
      argv: [
        "kubectl",
        "create",
        "deployment",
        "checkout",
        "--image=registry.example.com/checkout:1.5.0",
        "--replicas=3",
        "--namespace=shop",
        "--dry-run=client",
        "--output=yaml",
      ],
    });
    assert.equal(result.exit_code, 0, result.stderr.text);
    assert.equal(result.binary, "/usr/bin/kubectl");
    assert.match(result.stdout.text, /kind: Deployment/);
    assert.match(result.stdout.text, /name: checkout/);
    assert.match(result.stdout.text, /replicas: 3/);
  });

  const kubectlCases: { action: string; input: Record<string, unknown>; dryRun?: boolean }[] = [
    { action: "kubectl.get", input: { kind: "pod", namespace: "shop", label_selector: "app=checkout" } },
    {
      action: "kubectl.scale",
      input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 3, current_replicas: 2 },
      dryRun: true,
    },
    {
      action: "kubectl.annotate",
      input: { kind: "deployment", name: "checkout", namespace: "shop", annotations: { "wheelhouse.dev/plan": "p-1" } },
      dryRun: true,
    },
    {
      action: "kubectl.rollout_undo",
      input: { kind: "deployment", name: "checkout", namespace: "shop", to_revision: 3 },
      dryRun: true,
    },
    { action: "kubectl.rollout_restart", input: { kind: "deployment", name: "checkout", namespace: "shop" } },
    {
      action: "kubectl.logs",
      input: { kind: "deployment", name: "checkout", namespace: "shop", tail_lines: 10, since_seconds: 60 },
    },
    {
      action: "kubectl.rollout_status",
      input: { kind: "deployment", name: "checkout", namespace: "shop", timeout_seconds: 5 },
    },
  ];
  for (const c of kubectlCases) {
    it(`kubectl parses ${c.action}${c.dryRun ? " (dry run)" : ""}`, {
      skip: !has("kubectl") && "kubectl missing",
    }, async () => {
      const r = await executor().execute({ tool_call_id: "t", action_id: c.action, input: c.input, dry_run: c.dryRun });
      assert.equal(r.binary, "/usr/bin/kubectl");
      assert.notEqual(r.exit_code, 0, "no cluster, so the call cannot succeed");
      assert.doesNotMatch(r.stderr.text, PARSE_ERRORS);
      assert.match(r.stderr.text, /127\.0\.0\.1:1|connection refused|Unable to connect/i);
    });
  }

  it("helm template renders the fixture chart with a verified values artifact and --set", {
    skip: !HELM && "helm not built yet",
  }, async () => {
    const repo = join(dir, "values-repo");
    const values = 'image:\n  tag: "2.0.0"\n';
    const git = (...args: string[]) =>
      execa("git", args, {
        cwd: repo,
        env: { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" },
      });
    await execa("git", ["init", "--quiet", "--initial-branch=main", repo]);
    await writeFile(join(repo, "web.yaml"), values);
    await git("add", "web.yaml");
    await git("commit", "--quiet", "-m", "values");
    const r = await executor([dirname(HELM as string)]).execute({
      tool_call_id: "t",
      action_id: "helm.template",
      input: {
        release: "web",
        chart: join(CHARTS, "tiny"),
        namespace: "shop",
        set: { replicaCount: 4 },
        values_ref: {
          kind: "git_path",
          repo: `file://${repo}`,
          ref: "main",
          path: "web.yaml",
          sha256: createHash("sha256").update(values).digest("hex"),
        },
      },
    });
    assert.equal(r.exit_code, 0, r.stderr.text);
    assert.equal(r.ok, true);
    assert.match(r.argv.find((a) => a.startsWith("--values=")) ?? "", /artifacts\//);
    assert.match(r.stdout.text, /replicas: 4/);
    assert.match(r.stdout.text, /image: "registry.example.com\/web:2.0.0"/);
    assert.match(r.stdout.text, /namespace: shop/);
  });

  it("helm parses upgrade --dry-run=server, status and history", { skip: !HELM && "helm not built yet" }, async () => {
    const ex = executor([dirname(HELM as string)]);
    for (const [action, input, dryRun] of [
      ["helm.upgrade", { release: "web", chart: join(CHARTS, "tiny"), namespace: "shop", install: true }, true],
      ["helm.status", { release: "web", namespace: "shop" }, false],
      ["helm.history", { release: "web", namespace: "shop", max: 5 }, false],
      ["helm.rollback", { release: "web", namespace: "shop", revision: 0, timeout_seconds: 5 }, true],
    ] as const) {
      const r = await ex.execute({ tool_call_id: "t", action_id: action, input, dry_run: dryRun });
      assert.notEqual(r.exit_code, 0, `${action}: no cluster`);
      assert.doesNotMatch(r.stderr.text, PARSE_ERRORS, action);
      assert.match(
        r.stderr.text,
        /cluster unreachable|127\.0\.0\.1:1|connection refused/i,
        `${action}: ${r.stderr.text}`,
      );
    }
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

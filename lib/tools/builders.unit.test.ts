import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../errors/index.ts";
import {
  type BuildOptions,
  buildArgoCmd,
  buildAwsCmd,
  buildBoundaryCmd,
  buildCommand,
  buildGhCmd,
  buildHelmCmd,
  buildKubectlCmd,
  buildVaultCmd,
  successExitCodes,
} from "./builders.ts";

const manifestRef = { kind: "object_store", bucket: "deploys", key: "shop/checkout.yaml", sha256: "a".repeat(64) };

type Builder = (action: string, input: unknown, opts?: BuildOptions) => string[];
interface ValidCase {
  name: string;
  action: string;
  input: Record<string, unknown>;
  opts?: BuildOptions;
  argv: string[];
}
interface BadCase {
  name: string;
  action: string;
  input: unknown;
  opts?: BuildOptions;
  /** The field the error must name. */
  field: string;
}

function table(title: string, build: Builder, valid: ValidCase[], bad: BadCase[]): void {
  describe(title, () => {
    for (const c of valid) {
      it(`builds ${c.name}`, () => {
        assert.deepEqual(build(c.action, c.input, c.opts), c.argv);
      });
    }
    for (const c of bad) {
      it(`refuses ${c.name}`, () => {
        assert.throws(
          () => build(c.action, c.input, c.opts),
          (e: unknown) => {
            assert.ok(e instanceof ValidationError, `expected ValidationError, got ${String(e)}`);
            const fields = [e.field, ...e.issues.map((i) => i.field)];
            assert.ok(
              fields.some((f) => f?.startsWith(c.field)),
              `expected an issue on ${c.field}, got ${JSON.stringify(e.issues)}`,
            );
            assert.ok(e.fix ?? e.issues[0]?.fix, "the error says how to fix it");
            return true;
          },
        );
      });
    }
  });
}

/** The malicious-value table, applied to one string field of a valid input. */
const MALICIOUS: { name: string; value: string }[] = [
  { name: "flag injection", value: "--kubeconfig=/etc/evil" },
  { name: "short flag", value: "-n" },
  { name: "semicolon", value: "web;rm -rf /" },
  { name: "command substitution", value: "$(reboot)" },
  { name: "backticks", value: "`id`" },
  { name: "newline", value: "web\nkubectl delete ns prod" },
  { name: "carriage return", value: "web\r" },
  { name: "NUL byte", value: "web\u0000x" },
  { name: "path escape", value: "../../etc/passwd" },
  { name: "over-long value", value: "a".repeat(5000) },
  { name: "longer than the schema allows", value: "a".repeat(600) },
  { name: "cyrillic look-alike", value: "w\u0435b" },
  { name: "fullwidth look-alike", value: "\uFF57eb" },
  { name: "zero-width space", value: "web\u200b" },
  { name: "bidi override", value: "web\u202Emoc" },
  { name: "upper-case", value: "Web" },
  { name: "empty", value: "" },
];

function maliciousCases(action: string, base: Record<string, unknown>, fields: string[]): BadCase[] {
  const out: BadCase[] = [];
  for (const field of fields) {
    for (const m of MALICIOUS) {
      out.push({
        name: `${m.name} in ${field}`,
        action,
        input: { ...base, [field]: m.value },
        field: `input.${field}`,
      });
    }
  }
  return out;
}

const deploy = { kind: "deployment", name: "checkout", namespace: "shop" };

table(
  "TestBuildKubectlCmd",
  buildKubectlCmd,
  [
    {
      name: "get with selector",
      action: "get",
      input: { kind: "pod", namespace: "shop", label_selector: "app=checkout,tier!=cache" },
      argv: ["kubectl", "get", "pod", "--selector=app=checkout,tier!=cache", "--output=json", "--namespace=shop"],
    },
    {
      name: "get one object as yaml in a context",
      action: "get",
      input: { ...deploy, output: "yaml", context: "arn:aws:eks:eu-west-1:123456789012:cluster/prod" },
      argv: [
        "kubectl",
        "get",
        "deployment",
        "checkout",
        "--output=yaml",
        "--namespace=shop",
        "--context=arn:aws:eks:eu-west-1:123456789012:cluster/prod",
      ],
    },
    {
      name: "describe",
      action: "describe",
      input: deploy,
      argv: ["kubectl", "describe", "deployment", "checkout", "--namespace=shop"],
    },
    {
      name: "logs of a deployment",
      action: "logs",
      input: { ...deploy, container: "app", tail_lines: 50, since_seconds: 600, previous: true },
      argv: [
        "kubectl",
        "logs",
        "deployment/checkout",
        "--tail=50",
        "--container=app",
        "--since=600s",
        "--previous=true",
        "--namespace=shop",
      ],
    },
    {
      name: "logs of a pod",
      action: "logs",
      input: { kind: "pod", name: "checkout-7d9f", namespace: "shop" },
      argv: ["kubectl", "logs", "checkout-7d9f", "--tail=200", "--namespace=shop"],
    },
    {
      name: "scale",
      action: "scale",
      input: { ...deploy, replicas: 4, current_replicas: 2 },
      argv: ["kubectl", "scale", "deployment/checkout", "--replicas=4", "--current-replicas=2", "--namespace=shop"],
    },
    {
      name: "scale to zero, dry run",
      action: "scale",
      input: { ...deploy, replicas: 0 },
      opts: { dryRun: true },
      argv: ["kubectl", "scale", "deployment/checkout", "--replicas=0", "--namespace=shop", "--dry-run=server"],
    },
    {
      name: "rollout status",
      action: "rollout_status",
      input: { ...deploy, timeout_seconds: 120 },
      argv: [
        "kubectl",
        "rollout",
        "status",
        "deployment/checkout",
        "--watch=true",
        "--timeout=120s",
        "--namespace=shop",
      ],
    },
    {
      name: "rollout restart",
      action: "rollout_restart",
      input: deploy,
      argv: ["kubectl", "rollout", "restart", "deployment/checkout", "--namespace=shop"],
    },
    {
      name: "rollout undo to a revision",
      action: "rollout_undo",
      input: { ...deploy, to_revision: 7 },
      argv: ["kubectl", "rollout", "undo", "deployment/checkout", "--to-revision=7", "--namespace=shop"],
    },
    {
      name: "annotate (keys sorted, free text value)",
      action: "annotate",
      input: {
        ...deploy,
        annotations: { "wheelhouse.dev/plan": "p-1", "kubernetes.io/change-cause": "scale up; ticket OPS-12" },
      },
      argv: [
        "kubectl",
        "annotate",
        "deployment/checkout",
        "kubernetes.io/change-cause=scale up; ticket OPS-12",
        "wheelhouse.dev/plan=p-1",
        "--overwrite=true",
        "--namespace=shop",
      ],
    },
    {
      name: "apply (server-side, the verified manifest file)",
      action: "apply",
      input: { namespace: "shop", manifest_ref: manifestRef },
      opts: { manifestFile: "/tmp/wh-x/artifacts/m.yaml" },
      argv: [
        "kubectl",
        "apply",
        "--filename=/tmp/wh-x/artifacts/m.yaml",
        "--server-side=true",
        "--field-manager=wheelhouse",
        "--namespace=shop",
      ],
    },
    {
      name: "apply's dry run is kubectl diff --server-side, forcing conflicts as asked",
      action: "apply",
      input: { namespace: "shop", manifest_ref: manifestRef, force_conflicts: true, context: "kind-dev" },
      opts: { manifestFile: "/tmp/wh-x/artifacts/m.yaml", dryRun: true },
      argv: [
        "kubectl",
        "diff",
        "--filename=/tmp/wh-x/artifacts/m.yaml",
        "--server-side=true",
        "--field-manager=wheelhouse",
        "--force-conflicts=true",
        "--namespace=shop",
        "--context=kind-dev",
      ],
    },
    {
      name: "get_objects (the live state of a manifest's objects)",
      action: "get_objects",
      input: { namespace: "shop", manifest_ref: manifestRef },
      opts: { manifestFile: "/tmp/wh-x/artifacts/m.yaml" },
      argv: [
        "kubectl",
        "get",
        "--filename=/tmp/wh-x/artifacts/m.yaml",
        "--ignore-not-found=true",
        "--output=json",
        "--namespace=shop",
      ],
    },
    {
      name: "drain (defaults: daemonsets ignored, emptyDir data kept, 300 s)",
      action: "drain",
      input: { node: "worker-3" },
      argv: [
        "kubectl",
        "drain",
        "worker-3",
        "--ignore-daemonsets=true",
        "--delete-emptydir-data=false",
        "--timeout=300s",
      ],
    },
    {
      name: "drain dry run with a grace period",
      action: "drain",
      input: { node: "worker-3", grace_period_seconds: 30, timeout_seconds: 60, delete_emptydir_data: true },
      opts: { dryRun: true },
      argv: [
        "kubectl",
        "drain",
        "worker-3",
        "--ignore-daemonsets=true",
        "--delete-emptydir-data=true",
        "--grace-period=30",
        "--timeout=60s",
        "--dry-run=server",
      ],
    },
    { name: "cordon", action: "cordon", input: { node: "worker-3" }, argv: ["kubectl", "cordon", "worker-3"] },
    {
      name: "uncordon dry run",
      action: "uncordon",
      input: { node: "worker-3" },
      opts: { dryRun: true },
      argv: ["kubectl", "uncordon", "worker-3", "--dry-run=server"],
    },
  ],
  [
    {
      name: "apply before its manifest was resolved and checked",
      action: "apply",
      input: { namespace: "shop", manifest_ref: manifestRef },
      field: "input.manifest_ref",
    },
    {
      name: "apply of a manifest without a checksum",
      action: "apply",
      input: { namespace: "shop", manifest_ref: { kind: "object_store", bucket: "deploys", key: "m.yaml" } },
      opts: { manifestFile: "/tmp/m.yaml" },
      field: "input.manifest_ref",
    },
    { name: "drain of a node named like a flag", action: "drain", input: { node: "--all" }, field: "input.node" },
    {
      name: "drain with a pod selector it does not take",
      action: "drain",
      input: { node: "worker-3", pod_selector: "app=x" },
      field: "input.pod_selector",
    },
    ...maliciousCases("scale", { ...deploy, replicas: 2 }, ["name", "namespace"]),
    ...maliciousCases("get", { kind: "pod", namespace: "shop" }, ["context"]).filter((c) => !/upper-case/.test(c.name)),
    { name: "replicas as a string", action: "scale", input: { ...deploy, replicas: "3" }, field: "input.replicas" },
    { name: "negative replicas", action: "scale", input: { ...deploy, replicas: -1 }, field: "input.replicas" },
    { name: "replicas over bound", action: "scale", input: { ...deploy, replicas: 101 }, field: "input.replicas" },
    {
      name: "an extra flag field",
      action: "scale",
      input: { ...deploy, replicas: 1, extra_args: ["--all"] },
      field: "input.extra_args",
    },
    {
      name: "kind outside the enum",
      action: "scale",
      input: { ...deploy, kind: "node", replicas: 1 },
      field: "input.kind",
    },
    {
      name: "selector with a shell pipe",
      action: "get",
      input: { kind: "pod", namespace: "shop", label_selector: "app=web | sh" },
      field: "input.label_selector",
    },
    {
      name: "annotation value with a newline",
      action: "annotate",
      input: { ...deploy, annotations: { a: "x\ny" } },
      field: "input.annotations.a",
    },
    {
      name: "annotation value as a flag",
      action: "annotate",
      input: { ...deploy, annotations: { a: "--overwrite" } },
      field: "input.annotations.a",
    },
    {
      name: "annotation key as a flag",
      action: "annotate",
      input: { ...deploy, annotations: { "--all": "x" } },
      field: "input.annotations.--all",
    },
    { name: "an action outside the catalog", action: "delete", input: deploy, field: "action_id" },
    { name: "a non-object input", action: "get", input: "kind=pod", field: "input" },
  ],
);

const tinyChart = "/srv/charts/web";
table(
  "TestBuildHelmCmd",
  buildHelmCmd,
  [
    {
      name: "status",
      action: "status",
      input: { release: "web", namespace: "shop", revision: 3 },
      argv: ["helm", "status", "web", "--namespace=shop", "--revision=3", "--output=json"],
    },
    {
      name: "history",
      action: "history",
      input: { release: "web", namespace: "shop", kube_context: "prod" },
      argv: ["helm", "history", "web", "--namespace=shop", "--max=20", "--output=json", "--kube-context=prod"],
    },
    {
      name: "template a local chart with values and sets",
      action: "template",
      input: {
        release: "web",
        chart: tinyChart,
        namespace: "shop",
        values_ref: { kind: "object_store", bucket: "values", key: "web/prod.yaml", sha256: "a".repeat(64) },
        set: { replicaCount: 3, "image.tag": "1.2.3", "ingress.enabled": false },
      },
      opts: { allowedRoots: ["/srv/charts"], valuesFile: "/tmp/wh-x/values.yaml" },
      argv: [
        "helm",
        "template",
        "web",
        "/srv/charts/web",
        "--namespace=shop",
        "--values=/tmp/wh-x/values.yaml",
        "--set=image.tag=1.2.3",
        "--set=ingress.enabled=false",
        "--set=replicaCount=3",
      ],
    },
    {
      name: "upgrade from a repo chart",
      action: "upgrade",
      input: { release: "web", chart: "bitnami/nginx", version: "15.4.2", namespace: "shop", timeout_seconds: 600 },
      argv: [
        "helm",
        "upgrade",
        "web",
        "bitnami/nginx",
        "--namespace=shop",
        "--version=15.4.2",
        "--atomic",
        "--wait",
        "--timeout=600s",
      ],
    },
    {
      name: "upgrade as a dry run",
      action: "upgrade",
      input: { release: "web", chart: "oci://registry.example.com/charts/web", namespace: "shop", install: true },
      opts: { dryRun: true },
      argv: [
        "helm",
        "upgrade",
        "web",
        "oci://registry.example.com/charts/web",
        "--namespace=shop",
        "--install",
        "--dry-run=server",
      ],
    },
    {
      name: "upgrade_dry_run",
      action: "upgrade_dry_run",
      input: { release: "web", chart: "bitnami/nginx", namespace: "shop" },
      argv: ["helm", "upgrade", "web", "bitnami/nginx", "--namespace=shop", "--dry-run=server"],
    },
    {
      name: "rollback to previous",
      action: "rollback",
      input: { release: "web", namespace: "shop", revision: 0, wait: false },
      argv: ["helm", "rollback", "web", "0", "--namespace=shop", "--timeout=300s"],
    },
    {
      name: "uninstall",
      action: "uninstall",
      input: { release: "web", namespace: "shop" },
      argv: ["helm", "uninstall", "web", "--namespace=shop", "--wait", "--timeout=300s"],
    },
    {
      name: "uninstall dry run keeping history",
      action: "uninstall",
      input: { release: "web", namespace: "shop", keep_history: true, wait: false, timeout_seconds: 60 },
      opts: { dryRun: true },
      argv: ["helm", "uninstall", "web", "--namespace=shop", "--keep-history", "--timeout=60s", "--dry-run"],
    },
  ],
  [
    ...maliciousCases("status", { release: "web", namespace: "shop" }, ["release", "namespace"]),
    {
      name: "chart outside the allowed folders",
      action: "template",
      input: { release: "web", chart: "/etc/charts/web", namespace: "shop" },
      opts: { allowedRoots: ["/srv/charts"] },
      field: "input.chart",
    },
    {
      name: "chart escaping an allowed folder",
      action: "template",
      input: { release: "web", chart: "/srv/charts/../../etc", namespace: "shop" },
      opts: { allowedRoots: ["/srv/charts"] },
      field: "input.chart",
    },
    {
      name: "chart in a sibling folder with the same prefix",
      action: "template",
      input: { release: "web", chart: "/srv/charts-evil/web", namespace: "shop" },
      opts: { allowedRoots: ["/srv/charts"] },
      field: "input.chart",
    },
    {
      name: "relative chart path",
      action: "template",
      input: { release: "web", chart: "./charts/web", namespace: "shop" },
      field: "input.chart",
    },
    {
      name: "set value with a comma (helm list syntax)",
      action: "template",
      input: { release: "web", chart: "bitnami/nginx", namespace: "shop", set: { a: "1,b=2" } },
      field: "input.set.a",
    },
    {
      name: "set key with a flag",
      action: "template",
      input: { release: "web", chart: "bitnami/nginx", namespace: "shop", set: { "--post-renderer": "x" } },
      field: "input.set.--post-renderer",
    },
    {
      name: "values_ref path escape",
      action: "upgrade",
      input: {
        release: "web",
        chart: "bitnami/nginx",
        namespace: "shop",
        values_ref: {
          kind: "git_path",
          repo: "https://git.example.com/o/r",
          ref: "main",
          path: "../x",
          sha256: "a".repeat(64),
        },
      },
      field: "input.values_ref.path",
    },
    {
      name: "values_ref not resolved",
      action: "upgrade",
      input: {
        release: "web",
        chart: "bitnami/nginx",
        namespace: "shop",
        values_ref: { kind: "object_store", bucket: "values", key: "web.yaml", sha256: "a".repeat(64) },
      },
      field: "input.values_ref",
    },
    {
      name: "release over 53 characters",
      action: "status",
      input: { release: "a".repeat(54), namespace: "shop" },
      field: "input.release",
    },
  ],
);

table(
  "TestBuildArgoCmd",
  buildArgoCmd,
  [
    {
      name: "app get",
      action: "app_get",
      input: { app: "checkout" },
      argv: ["argocd", "app", "get", "checkout", "--output=json"],
    },
    {
      name: "app diff at a revision",
      action: "app_diff",
      input: { app: "checkout", revision: "v1.4.0" },
      argv: ["argocd", "app", "diff", "checkout", "--revision=v1.4.0"],
    },
    {
      name: "app sync with prune",
      action: "app_sync",
      input: { app: "checkout", revision: "3f9c2ab", prune: true, timeout_seconds: 120 },
      argv: ["argocd", "app", "sync", "checkout", "--revision=3f9c2ab", "--prune", "--timeout=120"],
    },
    {
      name: "app sync as a dry run is an app diff",
      action: "app_sync",
      input: { app: "checkout", revision: "3f9c2ab" },
      opts: { dryRun: true },
      argv: ["argocd", "app", "diff", "checkout", "--revision=3f9c2ab"],
    },
    {
      name: "app wait",
      action: "app_wait",
      input: { app: "checkout", sync: false },
      argv: ["argocd", "app", "wait", "checkout", "--health", "--timeout=300"],
    },
    {
      name: "app rollback to a history id",
      action: "app_rollback",
      input: { app: "checkout", history_id: 12 },
      argv: ["argocd", "app", "rollback", "checkout", "12", "--timeout=300"],
    },
  ],
  [
    ...maliciousCases("app_sync", { app: "checkout" }, ["app", "revision"]).filter(
      (c) => !(c.name.startsWith("upper-case") && c.field === "input.revision"),
    ),
  ],
);

table(
  "TestBuildAwsCmd",
  buildAwsCmd,
  [
    {
      name: "sts get-caller-identity",
      action: "sts_get_caller_identity",
      input: { region: "eu-west-1" },
      argv: ["aws", "sts", "get-caller-identity", "--region=eu-west-1", "--output=json"],
    },
    {
      name: "ecs describe-services",
      action: "ecs_describe_services",
      input: { region: "us-east-1", profile: "prod-ro", cluster: "main", services: ["checkout", "cart"] },
      argv: [
        "aws",
        "ecs",
        "describe-services",
        "--cluster=main",
        "--services",
        "checkout",
        "cart",
        "--region=us-east-1",
        "--output=json",
        "--profile=prod-ro",
      ],
    },
    {
      name: "autoscaling describe groups",
      action: "autoscaling_describe_groups",
      input: { region: "us-east-1", group_names: ["web-asg"] },
      argv: [
        "aws",
        "autoscaling",
        "describe-auto-scaling-groups",
        "--auto-scaling-group-names",
        "web-asg",
        "--region=us-east-1",
        "--output=json",
      ],
    },
    {
      name: "ecs update desired count",
      action: "ecs_update_service_desired_count",
      input: { region: "us-east-1", cluster: "main", service: "checkout", desired_count: 6 },
      argv: [
        "aws",
        "ecs",
        "update-service",
        "--cluster=main",
        "--service=checkout",
        "--desired-count=6",
        "--region=us-east-1",
        "--output=json",
      ],
    },
    {
      name: "asg set desired capacity without cooldown",
      action: "autoscaling_set_desired_capacity",
      input: { region: "us-east-1", group_name: "web-asg", desired_capacity: 4, honor_cooldown: false },
      argv: [
        "aws",
        "autoscaling",
        "set-desired-capacity",
        "--auto-scaling-group-name=web-asg",
        "--desired-capacity=4",
        "--no-honor-cooldown",
        "--region=us-east-1",
        "--output=json",
      ],
    },
  ],
  [
    ...maliciousCases(
      "ecs_update_service_desired_count",
      { region: "us-east-1", cluster: "main", service: "checkout", desired_count: 1 },
      ["cluster", "service", "region"],
    ).filter((c) => !(c.name.startsWith("upper-case") && c.field !== "input.region")),
    {
      name: "a service name that is a flag, inside a list",
      action: "ecs_describe_services",
      input: { region: "us-east-1", cluster: "main", services: ["checkout", "--debug"] },
      field: "input.services.1",
    },
    {
      name: "too many services",
      action: "ecs_describe_services",
      input: { region: "us-east-1", cluster: "main", services: Array.from({ length: 11 }, (_, i) => `s${i}`) },
      field: "input.services",
    },
  ],
);

table(
  "TestBuildVaultCmd",
  buildVaultCmd,
  [
    {
      name: "kv metadata get",
      action: "kv_metadata_get",
      input: { path: "apps/checkout/db" },
      argv: ["vault", "kv", "metadata", "get", "-format=json", "-mount=secret", "apps/checkout/db"],
    },
    {
      name: "kv put from secret files, with cas",
      action: "kv_put",
      input: {
        mount: "kv",
        path: "apps/checkout/db",
        cas: 4,
        data_refs: { password: "env:NEW_DB_PASSWORD", user: "file:/run/secrets/db_user" },
      },
      opts: { secretFiles: { password: "/tmp/wh-1/s0", user: "/tmp/wh-1/s1" } },
      argv: [
        "vault",
        "kv",
        "put",
        "-format=json",
        "-mount=kv",
        "-cas=4",
        "apps/checkout/db",
        "password=@/tmp/wh-1/s0",
        "user=@/tmp/wh-1/s1",
      ],
    },
    {
      name: "kv rollback",
      action: "kv_rollback",
      input: { path: "apps/checkout/db", version: 3 },
      argv: ["vault", "kv", "rollback", "-format=json", "-mount=secret", "-version=3", "apps/checkout/db"],
    },
  ],
  [
    ...maliciousCases("kv_metadata_get", {}, ["path", "mount"]).filter(
      (c) => !(c.name.startsWith("upper-case") && c.field === "input.path"),
    ),
    { name: "absolute path", action: "kv_metadata_get", input: { path: "/sys/raw" }, field: "input.path" },
    {
      name: "a literal secret instead of a reference",
      action: "kv_put",
      input: { path: "apps/db", data_refs: { password: "hunter2" } },
      field: "input.data_refs.password",
    },
    {
      name: "data_refs not resolved",
      action: "kv_put",
      input: { path: "apps/db", data_refs: { password: "env:X" } },
      field: "input.data_refs.password",
    },
  ],
);

table(
  "TestBuildBoundaryCmd",
  buildBoundaryCmd,
  [
    {
      name: "targets list",
      action: "targets_list",
      input: { scope_id: "p_1234567890", recursive: true },
      argv: ["boundary", "targets", "list", "-scope-id=p_1234567890", "-recursive", "-format=json"],
    },
    {
      name: "authorize session",
      action: "targets_authorize_session",
      input: { target_id: "ttcp_AbCdEf1234" },
      argv: ["boundary", "targets", "authorize-session", "-id=ttcp_AbCdEf1234", "-format=json"],
    },
  ],
  [
    ...maliciousCases("targets_authorize_session", {}, ["target_id"]),
    ...maliciousCases("targets_list", {}, ["scope_id"]),
  ],
);

table(
  "TestBuildGhCmd",
  buildGhCmd,
  [
    {
      name: "pr create with a multi-line body",
      action: "pr_create",
      input: {
        repo: "acme/deploys",
        base: "main",
        head: "wh/scale-checkout",
        title: "Scale checkout to 4",
        body: "Plan p-1\n\n- step `s1`: scale\nAuthor: Zoë",
        draft: true,
      },
      argv: [
        "gh",
        "pr",
        "create",
        "--repo=acme/deploys",
        "--base=main",
        "--head=wh/scale-checkout",
        "--title=Scale checkout to 4",
        "--body=Plan p-1\n\n- step `s1`: scale\nAuthor: Zoë",
        "--draft",
      ],
    },
    {
      name: "pr view",
      action: "pr_view",
      input: { repo: "acme/deploys", number: 42 },
      argv: [
        "gh",
        "pr",
        "view",
        "42",
        "--repo=acme/deploys",
        "--json=number,title,state,url,isDraft,headRefName,baseRefName",
      ],
    },
  ],
  [
    ...maliciousCases("pr_create", { repo: "acme/deploys", base: "main", head: "feature", title: "t" }, [
      "repo",
      "head",
    ]).filter((c) => !c.name.startsWith("upper-case")),
    {
      name: "title with a newline",
      action: "pr_create",
      input: { repo: "a/b", base: "main", head: "x", title: "a\nb" },
      field: "input.title",
    },
    {
      name: "title as a flag",
      action: "pr_create",
      input: { repo: "a/b", base: "main", head: "x", title: "--web" },
      field: "input.title",
    },
    {
      name: "body with a NUL byte",
      action: "pr_create",
      input: { repo: "a/b", base: "main", head: "x", title: "t", body: "a\u0000b" },
      field: "input.body",
    },
    {
      name: "body with a bidi override",
      action: "pr_create",
      input: { repo: "a/b", base: "main", head: "x", title: "t", body: "ok\u202Eevil" },
      field: "input.body",
    },
  ],
);

describe("buildCommand", () => {
  it("dispatches on the action id", () => {
    assert.deepEqual(buildCommand("kubectl.scale", { ...deploy, replicas: 2 }), [
      "kubectl",
      "scale",
      "deployment/checkout",
      "--replicas=2",
      "--namespace=shop",
    ]);
  });
  it("refuses an unknown action", () => {
    assert.throws(() => buildCommand("kubectl.delete", deploy), ValidationError);
    assert.throws(() => buildCommand("sh.exec", {}), ValidationError);
  });
  it("builds no argv for git.pull_request: the orchestrator opens pull requests, not the router", () => {
    const pr = { repo: "acme/gitops", base: "main", branch: "wh/x", title: "t", body: "", files: [] };
    assert.throws(
      () => buildCommand("git.pull_request", pr),
      (e: unknown) => e instanceof ValidationError && /not run by the tool router/.test(e.message),
    );
  });
  it("refuses a dry run of a write that has none instead of running it for real", () => {
    assert.throws(
      () => buildCommand("kubectl.rollout_restart", deploy, { dryRun: true }),
      (e: unknown) => e instanceof ValidationError && e.field === "dry_run",
    );
    assert.throws(
      () =>
        buildCommand(
          "aws.ecs_update_service_desired_count",
          { region: "us-east-1", cluster: "a", service: "b", desired_count: 1 },
          { dryRun: true },
        ),
      (e: unknown) => e instanceof ValidationError && e.field === "dry_run",
    );
  });
  it("knows argocd diff and kubectl diff (apply's dry run) exit 1 on a difference", () => {
    assert.deepEqual(successExitCodes("argocd.app_diff"), [0, 1]);
    assert.deepEqual(successExitCodes("argocd.app_sync", true), [0, 1]);
    assert.deepEqual(successExitCodes("argocd.app_sync"), [0]);
    assert.deepEqual(successExitCodes("kubectl.apply", true), [0, 1]);
    assert.deepEqual(successExitCodes("kubectl.apply"), [0]);
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors/index.ts";
import { loadCatalog } from "./index.ts";

const REQUIRED_ACTIONS = [
  "kubectl.get",
  "kubectl.describe",
  "kubectl.logs",
  "kubectl.scale",
  "kubectl.rollout_status",
  "kubectl.rollout_restart",
  "kubectl.rollout_undo",
  "kubectl.annotate",
  "helm.status",
  "helm.history",
  "helm.template",
  "helm.upgrade_dry_run",
  "helm.upgrade",
  "helm.rollback",
  "helm.uninstall",
  "kubectl.apply",
  "kubectl.get_objects",
  "kubectl.drain",
  "kubectl.cordon",
  "kubectl.uncordon",
  "argocd.app_get",
  "argocd.app_diff",
  "argocd.app_sync",
  "argocd.app_wait",
  "argocd.app_rollback",
  "aws.sts_get_caller_identity",
  "aws.ecs_describe_services",
  "aws.autoscaling_describe_groups",
  "aws.ecs_update_service_desired_count",
  "aws.autoscaling_set_desired_capacity",
  "vault.kv_metadata_get",
  "vault.kv_put",
  "boundary.targets_list",
  "boundary.targets_authorize_session",
  "gh.pr_create",
  "gh.pr_view",
];

describe("loadCatalog", () => {
  const catalog = loadCatalog();

  it("has every required action, each well-formed", () => {
    const ids = new Set(catalog.actions().map((a) => a.id));
    for (const id of REQUIRED_ACTIONS) assert.ok(ids.has(id), `missing ${id}`);
    for (const a of catalog.actions()) {
      assert.equal(a.id, `${a.tool}.${a.action}`);
      if (a.kind === "read") assert.equal(a.risk, "T0", `${a.id}: reads are T0`);
      else assert.notEqual(a.risk, "T0", `${a.id}: writes are above T0`);
      if (a.rollback !== null) assert.ok(catalog.get(a.rollback), `${a.id} rollback ${a.rollback}`);
      assert.equal(a.input.additionalProperties, false);
    }
  });

  it("names, for every kubectl and gh action, whether it has an API path without the CLI", () => {
    const files = ["kubectl", "gh"].map((tool) =>
      JSON.parse(readFileSync(fileURLToPath(new URL(`../../schemas/tools/${tool}.json`, import.meta.url)), "utf8")),
    );
    for (const file of files) {
      for (const [name, action] of Object.entries(file.actions as Record<string, { api_fallback?: unknown }>)) {
        assert.equal(typeof action.api_fallback, "boolean", `${file.tool}.${name} says api_fallback true or false`);
      }
    }
    const api = catalog.actions().filter((a) => a.api_fallback);
    assert.ok(
      api.every((a) => a.tool === "kubectl" || a.tool === "gh"),
      "only kubectl and gh have an API",
    );
  });

  it("stage 3's expanded catalog is stage3_only in the policy data, with a tier", () => {
    const data = JSON.parse(readFileSync(fileURLToPath(new URL("../../policies/data.json", import.meta.url)), "utf8"));
    const actions = data.wheelhouse.config.actions as Record<string, { tier?: string; stage3_only?: boolean }>;
    for (const id of ["kubectl.apply", "kubectl.drain", "kubectl.cordon", "kubectl.uncordon", "helm.uninstall"]) {
      assert.ok(catalog.get(id), `${id} is in the catalog`);
      assert.equal(actions[id]?.stage3_only, true, `${id} is stage3_only`);
      assert.match(actions[id]?.tier ?? "", /^T[1-3]$/, `${id} has a tier`);
    }
  });

  it("returns null for an unknown action", () => {
    assert.equal(catalog.get("kubectl.delete"), null);
    assert.equal(catalog.get("nope"), null);
  });

  it("accepts a valid input and maps its resource", () => {
    const input = { kind: "deployment", name: "checkout", namespace: "shop", replicas: 3 };
    assert.deepEqual(catalog.validateInput("kubectl.scale", input), { ok: true });
    assert.deepEqual(catalog.resourceOf("kubectl.scale", input), {
      namespace: "shop",
      kind: "deployment",
      name: "checkout",
      replicas: 3,
    });
  });

  const invalid: { name: string; action: string; input: unknown; field: string }[] = [
    {
      name: "unknown field",
      action: "kubectl.scale",
      input: { kind: "deployment", name: "a", namespace: "b", replicas: 1, force: true },
      field: "input.force",
    },
    {
      name: "missing field",
      action: "kubectl.scale",
      input: { kind: "deployment", name: "a", namespace: "b" },
      field: "input.replicas",
    },
    {
      name: "upper-case name",
      action: "kubectl.scale",
      input: { kind: "deployment", name: "Web", namespace: "b", replicas: 1 },
      field: "input.name",
    },
    {
      name: "kind outside enum",
      action: "kubectl.scale",
      input: { kind: "secret", name: "a", namespace: "b", replicas: 1 },
      field: "input.kind",
    },
    {
      name: "replicas over bound",
      action: "kubectl.scale",
      input: { kind: "deployment", name: "a", namespace: "b", replicas: 5000 },
      field: "input.replicas",
    },
    {
      name: "namespace too long",
      action: "helm.status",
      input: { release: "web", namespace: "a".repeat(64) },
      field: "input.namespace",
    },
    {
      name: "values_ref with bad sha",
      action: "helm.upgrade",
      input: {
        release: "web",
        chart: "bitnami/nginx",
        namespace: "shop",
        values_ref: { kind: "object_store", bucket: "vals", key: "web.yaml", sha256: "abc" },
      },
      field: "input.values_ref.sha256",
    },
    { name: "unknown action", action: "kubectl.exec", input: {}, field: "action_id" },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name}, naming ${c.field}`, () => {
      const result = catalog.validateInput(c.action, c.input);
      assert.equal(result.ok, false);
      if (result.ok) return;
      const fields = result.issues.map((i) => i.field);
      assert.ok(fields.includes(c.field), `expected ${c.field} in ${JSON.stringify(result.issues)}`);
      for (const issue of result.issues) assert.ok(issue.fix, `issue on ${issue.field} has a fix`);
    });
  }

  it("rejects a catalog whose rollback names an unknown action", () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-catalog-"));
    try {
      writeFileSync(
        join(dir, "x.json"),
        JSON.stringify({
          tool: "x",
          binary: "x",
          description: "x",
          actions: {
            go: {
              description: "go",
              kind: "write",
              reversible: true,
              risk: "T1",
              dry_run: false,
              rollback: "x.undo",
              resource: {},
              input: { type: "object", additionalProperties: false, properties: {} },
            },
          },
        }),
      );
      assert.throws(
        () => loadCatalog(dir),
        (e: unknown) => e instanceof ConfigError && /x\.undo/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("compiles a schema at load, or on its first validation when asked (sandbox-exec runs one action)", () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-catalog-"));
    const action = (input: Record<string, unknown>) => ({
      description: "a",
      kind: "read",
      reversible: true,
      risk: "T0",
      dry_run: false,
      rollback: null,
      resource: {},
      input: { type: "object", additionalProperties: false, ...input },
    });
    try {
      writeFileSync(
        join(dir, "x.json"),
        JSON.stringify({
          tool: "x",
          binary: "x",
          actions: { ok: action({ properties: { n: { type: "integer" } } }), bad: action({ minProperties: "two" }) },
        }),
      );
      const broken = (e: unknown) => e instanceof ConfigError && /actions\.bad\.input does not compile/.test(e.message);
      assert.throws(() => loadCatalog(dir), broken);
      const lazy = loadCatalog(dir, { compile: "on_first_use" });
      assert.deepEqual(lazy.validateInput("x.ok", { n: 1 }), { ok: true });
      assert.equal(lazy.validateInput("x.ok", { n: "1" }).ok, false);
      assert.throws(() => lazy.validateInput("x.bad", {}), broken);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

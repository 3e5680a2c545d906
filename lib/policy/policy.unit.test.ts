import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { ValidationError } from "../errors/index.ts";
import { loadCatalog } from "../tools/index.ts";
import { buildPolicyInput, parseBundle } from "./index.ts";

const catalog = loadCatalog();
const now = new Date("2026-03-10T14:05:00Z");
const alice = { id: "alice", kind: "user" as const, roles: ["operator" as const] };

describe("buildPolicyInput", () => {
  test("reads the target from the step input through the catalog's resource mapping", () => {
    const input = buildPolicyInput(
      {
        step_id: "s1",
        action_id: "kubectl.scale",
        input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 5, current_replicas: 2 },
        target: { environment: "staging", service: "checkout", namespace: "ignored-when-input-says" },
      },
      catalog.get("kubectl.scale"),
      alice,
      { plan_id: "p1", source: "api", now, current_replicas: 3, approvals: [{ approver: "bob", at: "x" }] },
    );
    assert.deepEqual(input, {
      actor: { id: "alice", kind: "user", roles: ["operator"] },
      action: {
        id: "kubectl.scale",
        tool: "kubectl",
        name: "scale",
        kind: "write",
        reversible: true,
        risk: "T1",
        in_catalog: true,
        dry_run: true,
      },
      context: { plan_id: "p1", step_id: "s1", source: "api", approvals: [{ approver: "bob", at: "x" }] },
      resources: {
        environment: "staging",
        namespace: "shop",
        service: "checkout",
        account: null,
        cluster: null,
        replicas: 5,
        current_replicas: 3,
        names: ["checkout"],
        wildcard: false,
      },
      risk: { blast_radius: 1 },
      time: "2026-03-10T14:05:00.000Z",
    });
  });

  test("falls back to the step input's current replicas and the target's namespace", () => {
    const input = buildPolicyInput(
      {
        step_id: "s1",
        action_id: "aws.autoscaling_set_desired_capacity",
        input: { region: "eu-west-1", group_name: "web", desired_capacity: 4 },
        target: { environment: "production", account: "prod-main", namespace: "n/a" },
      },
      catalog.get("aws.autoscaling_set_desired_capacity"),
      alice,
      { plan_id: "p1", source: "alert", stage: 2, blast_radius: 7, tier_override: "T3", now },
    );
    assert.equal(input.resources.replicas, 4);
    assert.equal(input.resources.current_replicas, null);
    assert.equal(input.resources.account, "prod-main");
    assert.equal(input.resources.namespace, "n/a");
    assert.deepEqual(input.resources.names, ["web"]);
    assert.equal(input.context.stage, 2);
    assert.deepEqual(input.risk, { tier: "T3", blast_radius: 7 });
  });

  test("an unknown action assumes the worst", () => {
    const input = buildPolicyInput(
      { step_id: "s1", action_id: "kubectl.exec", input: { name: "x" }, target: { environment: "dev" } },
      null,
      alice,
      { plan_id: "p1", source: "api", now },
    );
    assert.deepEqual(input.action, {
      id: "kubectl.exec",
      tool: "kubectl",
      name: "exec",
      kind: "write",
      reversible: false,
      risk: "T3",
      in_catalog: false,
      dry_run: false,
    });
  });

  test("patterns, selectors and all: true are wildcards", () => {
    const make = (input: Record<string, unknown>) =>
      buildPolicyInput(
        { step_id: "s1", action_id: "kubectl.get", input, target: { environment: "dev" } },
        catalog.get("kubectl.get"),
        alice,
        { plan_id: "p1", source: "api", now },
      ).resources.wildcard;
    assert.equal(make({ kind: "pod", name: "web-*" }), true);
    assert.equal(make({ kind: "pod", label_selector: "app=web" }), true);
    assert.equal(make({ kind: "pod", all: true }), true);
    assert.equal(make({ kind: "pod", name: "web-1" }), false);
    assert.equal(make({ kind: "pod", label_selector: "  " }), false);
  });
});

/** A minimal ustar archive, as `opa build` writes one. */
function tar(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const body = Buffer.from(content);
    const header = Buffer.alloc(512);
    header.write(name, 0, "utf8");
    header.write("0000644\0", 100);
    header.write("0000000\0", 108);
    header.write("0000000\0", 116);
    header.write(`${body.length.toString(8).padStart(11, "0")}\0`, 124);
    header.write("00000000000\0", 136);
    header.write("        ", 148);
    header.write("0", 156);
    header.write("ustar\0", 257);
    header.write("00", 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

describe("parseBundle", () => {
  test("finds the wasm module named by the manifest and merges nested data", () => {
    const bundle = parseBundle(
      gzipSync(
        tar({
          "/.manifest": JSON.stringify({ revision: "r1", wasm: [{ entrypoint: "a/b", module: "/m.wasm" }] }),
          "/m.wasm": "WASM",
          "/data.json": JSON.stringify({ top: 1 }),
          "/wheelhouse/config/data.json": JSON.stringify({ stage: 2 }),
        }),
      ),
      "a/b",
    );
    assert.equal(Buffer.from(bundle.wasm).toString(), "WASM");
    assert.equal(bundle.manifest.revision, "r1");
    assert.deepEqual(bundle.data, { top: 1, wheelhouse: { config: { stage: 2 } } });
  });

  test("names what is wrong with a broken bundle", () => {
    assert.throws(() => parseBundle(Buffer.from("nope"), "a/b"), /bundle is not gzip/);
    assert.throws(() => parseBundle(gzipSync(tar({ "/data.json": "{}" })), "a/b"), /no wasm module at \/policy.wasm/);
    assert.throws(
      () => parseBundle(gzipSync(tar({ "/policy.wasm": "W", "/data.json": "{" })), "a/b"),
      /\/data.json is not valid JSON/,
    );
    const corrupt = tar({ "/policy.wasm": "W" });
    corrupt[150] = 0x37;
    assert.throws(() => parseBundle(gzipSync(corrupt), "a/b"), /bad checksum/);
    // The config field that points at the bundle, and how to get a good one.
    assert.throws(
      () => parseBundle(Buffer.from("nope"), "a/b"),
      (e: unknown) =>
        e instanceof ValidationError && e.field === "policy.bundle_path" && /scripts\/setup/.test(e.fix ?? ""),
    );
  });
});

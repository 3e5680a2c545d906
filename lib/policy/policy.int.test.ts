/**
 * Policy through the compiled wasm: a decision table, a differential test
 * against `opa eval` on the Rego source, fail-closed behaviour and hot reload.
 * Every bundle is built here, into a temp dir, from the current sources.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { PlanStep } from "../../events/plan.ts";
import { waitFor } from "../../test/support/index.ts";
import { createLogger } from "../log/index.ts";
import { type CatalogAction, loadCatalog } from "../tools/index.ts";
import { buildPolicyBundle, POLICIES_DIR, resolveOpaBinary } from "./build.ts";
import {
  buildPolicyInput,
  changeWindowZones,
  createPolicyService,
  type PolicyApproval,
  type PolicyDecision,
  type PolicyInput,
  type PolicyService,
  type RiskTier,
  withTimeZones,
} from "./index.ts";

const run = promisify(execFile);

/** Production's windows in the differential and zone tests: office hours in Berlin, a night in New York. */
const ZONED_WINDOWS = [
  { days: ["Mon", "Tue", "Wed", "Thu"], start: "09:00", end: "16:00", tz: "Europe/Berlin" },
  { days: ["Sat"], start: "22:00", end: "04:00", tz: "America/New_York" },
];
const opa = resolveOpaBinary(process.env);
const catalog = loadCatalog();
const logger = createLogger({ service: "policy-test", level: "silent", format: "json" });

const REGO = join(POLICIES_DIR, "authz.rego");
const DATA = join(POLICIES_DIR, "data.json");
// Tuesday 14:05 UTC: inside the default change window (Mon-Thu 09:00-16:00).
const IN_WINDOW = new Date("2026-03-10T14:05:00Z");
// Friday 17:00 UTC: outside; the next window opens Monday 2026-03-16 09:00.
const OUT_OF_WINDOW = new Date("2026-03-13T17:00:00Z");

let dir: string;
let bundlePath: string;
const services: PolicyService[] = [];

async function service(options: { stage?: number; path?: string; timeoutMs?: number; watch?: boolean } = {}) {
  const created = await createPolicyService({
    bundlePath: options.path ?? bundlePath,
    stage: options.stage,
    // Generous: these tests are about decisions, not speed; a loaded machine can stall an
    // evaluation for tens of milliseconds, and over budget means deny. The budget test sets its own.
    timeoutMs: options.timeoutMs ?? 5_000,
    logger,
    watch: options.watch ?? false,
  });
  services.push(created);
  return created;
}

/** A catalog action, or a stand-in for actions the catalog does not have yet (deletes, drain). */
function action(id: string): CatalogAction | null {
  const found = catalog.get(id);
  if (found) return found;
  const stand_ins: Record<string, Partial<CatalogAction>> = {
    "kubectl.delete": { kind: "write", reversible: false, risk: "T3", dry_run: true },
    "kubectl.drain": { kind: "write", reversible: true, risk: "T3", dry_run: true },
  };
  const extra = stand_ins[id];
  if (!extra) return null;
  const [tool = "", name = ""] = id.split(".");
  return {
    id,
    tool,
    action: name,
    binary: tool,
    description: "test stand-in",
    kind: "write",
    reversible: false,
    risk: "T3",
    dry_run: false,
    rollback: null,
    api_fallback: false,
    resource: { namespace: "namespace", kind: "kind", name: "name" },
    input: {},
    ...extra,
  };
}

interface Case {
  readonly name: string;
  readonly action: string;
  readonly input?: Record<string, unknown>;
  readonly target?: Partial<PlanStep["target"]>;
  readonly roles?: readonly string[];
  readonly kind?: "user" | "service" | "system";
  readonly stage: number;
  readonly approvals?: readonly string[];
  readonly current?: number | null;
  readonly blast?: number;
  readonly override?: RiskTier;
  readonly now?: Date;
  readonly want: {
    decision: PolicyDecision["decision"];
    tier: PolicyDecision["tier"];
    approvers?: number;
    reason?: string;
  };
}

const scale = (replicas: number, namespace = "shop") => ({ kind: "deployment", name: "checkout", namespace, replicas });
const named = { kind: "deployment", name: "checkout", namespace: "shop" };
const release = { release: "checkout", chart: "oci://charts/checkout", version: "1.2.3", namespace: "shop" };
const secret = { mount: "kv", path: "shop/checkout/db", data_refs: { password: "env:NEW_DB_PASSWORD" } };

const CASES: readonly Case[] = [
  // Stages.
  {
    name: "stage 0 allows reads",
    action: "kubectl.get",
    input: named,
    stage: 0,
    want: { decision: "allow", tier: "T0", approvers: 0 },
  },
  {
    name: "stage 0 denies writes",
    action: "kubectl.scale",
    input: scale(4),
    current: 3,
    stage: 0,
    want: { decision: "deny", tier: "T1", reason: "stage 0 is read-only" },
  },
  {
    name: "stage 1 needs approval for a T1 write",
    action: "kubectl.scale",
    input: scale(4),
    current: 3,
    stage: 1,
    want: { decision: "require_approval", tier: "T1", approvers: 1, reason: "stage 1 requires approval" },
  },
  {
    name: "stage 2 runs a T1 scale in staging",
    action: "kubectl.scale",
    input: scale(4),
    current: 3,
    stage: 2,
    want: { decision: "allow", tier: "T1", approvers: 0, reason: "runs automatically at stage 2" },
  },
  {
    name: "stage 3 runs a T1 scale in staging",
    action: "kubectl.scale",
    input: scale(6),
    current: 3,
    stage: 3,
    want: { decision: "allow", tier: "T1", approvers: 0 },
  },
  {
    name: "stage 2 runs a T1 annotate in dev",
    action: "kubectl.annotate",
    input: { ...named, annotations: { "wheelhouse/note": "x" } },
    target: { environment: "dev" },
    stage: 2,
    want: { decision: "allow", tier: "T1" },
  },
  {
    name: "stage 2 runs an ASG capacity change in staging",
    action: "aws.autoscaling_set_desired_capacity",
    input: { region: "eu-west-1", group_name: "web", desired_capacity: 4 },
    current: 2,
    stage: 2,
    want: { decision: "allow", tier: "T1" },
  },
  {
    name: "stage3_only action denied at stage 2",
    action: "kubectl.drain",
    input: named,
    stage: 2,
    want: { decision: "deny", tier: "T3", reason: "only available at stage 3" },
  },
  {
    name: "stage3_only action allowed at stage 3",
    action: "kubectl.drain",
    input: named,
    stage: 3,
    now: IN_WINDOW,
    want: { decision: "require_approval", tier: "T3", approvers: 2 },
  },
  // Tiers.
  {
    name: "production scale is T2",
    action: "kubectl.scale",
    input: scale(6),
    current: 4,
    target: { environment: "production" },
    stage: 3,
    want: { decision: "require_approval", tier: "T2", approvers: 1, reason: "production write" },
  },
  {
    name: "irreversible restart is T2",
    action: "kubectl.rollout_restart",
    input: named,
    stage: 3,
    want: { decision: "require_approval", tier: "T2", approvers: 1, reason: "irreversible write" },
  },
  {
    name: "helm upgrade is T2",
    action: "helm.upgrade",
    input: release,
    target: { environment: "production" },
    stage: 3,
    want: { decision: "require_approval", tier: "T2", approvers: 1 },
  },
  {
    name: "helm upgrade with one approver runs",
    action: "helm.upgrade",
    input: release,
    target: { environment: "production" },
    approvals: ["bob"],
    stage: 3,
    want: { decision: "allow", tier: "T2", approvers: 1, reason: "approved by 1" },
  },
  {
    name: "requester cannot approve their own change",
    action: "helm.upgrade",
    input: release,
    approvals: ["alice"],
    stage: 3,
    want: { decision: "require_approval", tier: "T2" },
  },
  {
    name: "argo sync is T2",
    action: "argocd.app_sync",
    input: { app: "checkout" },
    target: { environment: "production" },
    stage: 3,
    want: { decision: "require_approval", tier: "T2", approvers: 1 },
  },
  {
    name: "pull request is T2",
    action: "gh.pr_create",
    input: { repo: "acme/shop", base: "main", head: "fix", title: "t", body: "b" },
    stage: 3,
    want: { decision: "require_approval", tier: "T2" },
  },
  {
    name: "boundary session is T2",
    action: "boundary.targets_authorize_session",
    input: { target_id: "ttcp_1234567890" },
    stage: 3,
    want: { decision: "require_approval", tier: "T2" },
  },
  {
    name: "secret rotation is T3 with two approvers",
    action: "vault.kv_put",
    input: secret,
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "require_approval", tier: "T3", approvers: 2, reason: "inside the change window" },
  },
  {
    name: "secret rotation with two approvers runs",
    action: "vault.kv_put",
    input: secret,
    approvals: ["bob", "carol"],
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "allow", tier: "T3", approvers: 2 },
  },
  {
    name: "the same approver twice counts once",
    action: "vault.kv_put",
    input: secret,
    approvals: ["bob", "bob"],
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "require_approval", tier: "T3", reason: "1 so far" },
  },
  {
    name: "production rollback is T3",
    action: "kubectl.rollout_undo",
    input: named,
    target: { environment: "production" },
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "require_approval", tier: "T3", approvers: 2 },
  },
  {
    name: "staging rollback stays T2",
    action: "kubectl.rollout_undo",
    input: named,
    stage: 3,
    want: { decision: "require_approval", tier: "T2", approvers: 1 },
  },
  {
    name: "named delete is T3",
    action: "kubectl.delete",
    input: { kind: "pod", name: "checkout-1", namespace: "shop" },
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "require_approval", tier: "T3", reason: "delete: T3" },
  },
  {
    name: "blast radius raises to T3",
    action: "kubectl.scale",
    input: scale(4),
    current: 3,
    blast: 25,
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "require_approval", tier: "T3", reason: "blast radius 25" },
  },
  {
    name: "risk override raises to T3",
    action: "kubectl.annotate",
    input: { ...named, annotations: { a: "b" } },
    override: "T3",
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "require_approval", tier: "T3" },
  },
  // Change windows.
  {
    name: "T3 outside the window is denied with its opening",
    action: "vault.kv_put",
    input: secret,
    approvals: ["bob", "carol"],
    now: OUT_OF_WINDOW,
    stage: 3,
    want: { decision: "deny", tier: "T3", reason: "the next window opens at 2026-03-16T09:00:00Z" },
  },
  {
    name: "production rollback outside the window is denied",
    action: "helm.rollback",
    input: { release: "checkout", namespace: "shop", revision: 3 },
    target: { environment: "production" },
    now: OUT_OF_WINDOW,
    stage: 3,
    want: { decision: "deny", tier: "T3", reason: "outside the change window for production" },
  },
  {
    name: "T3 before opening time today",
    action: "vault.kv_put",
    input: secret,
    now: new Date("2026-03-10T07:00:00Z"),
    stage: 3,
    want: { decision: "deny", tier: "T3", reason: "opens at 2026-03-10T09:00:00Z" },
  },
  {
    name: "T2 is not bound to windows",
    action: "helm.upgrade",
    input: release,
    now: OUT_OF_WINDOW,
    stage: 3,
    want: { decision: "require_approval", tier: "T2" },
  },
  // Deny rules.
  {
    name: "action outside the catalog",
    action: "kubectl.exec",
    input: named,
    stage: 3,
    want: { decision: "deny", tier: "T3", reason: "kubectl.exec is not in the tool catalog" },
  },
  {
    name: "protected namespace",
    action: "kubectl.scale",
    input: scale(4, "kube-system"),
    current: 3,
    stage: 3,
    want: { decision: "deny", tier: "T1", reason: "namespace kube-system is protected" },
  },
  {
    name: "protected namespace is still readable",
    action: "kubectl.logs",
    input: { ...named, namespace: "kube-system" },
    stage: 3,
    want: { decision: "allow", tier: "T0" },
  },
  {
    name: "protected account",
    action: "aws.ecs_update_service_desired_count",
    input: { region: "eu-west-1", cluster: "main", service: "web", desired_count: 3 },
    current: 2,
    target: { account: "security" },
    stage: 3,
    want: { decision: "deny", tier: "T1", reason: "account security is protected" },
  },
  {
    name: "wildcard delete by name",
    action: "kubectl.delete",
    input: { kind: "pod", name: "checkout-*", namespace: "shop" },
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "deny", tier: "T3", reason: "wildcard delete" },
  },
  {
    name: "wildcard delete by selector",
    action: "kubectl.delete",
    input: { kind: "pod", namespace: "shop", label_selector: "app=checkout" },
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "deny", tier: "T3", reason: "wildcard delete" },
  },
  {
    name: "scale above the environment maximum",
    action: "kubectl.scale",
    input: scale(21),
    current: 18,
    stage: 3,
    want: { decision: "deny", tier: "T1", reason: "exceed the maximum of 20 in staging" },
  },
  {
    name: "scale below the production minimum",
    action: "kubectl.scale",
    input: scale(1),
    current: 2,
    target: { environment: "production" },
    stage: 3,
    want: { decision: "deny", tier: "T2", reason: "below the minimum of 2" },
  },
  {
    name: "scale step too large",
    action: "kubectl.scale",
    input: scale(12),
    current: 2,
    stage: 3,
    want: { decision: "deny", tier: "T1", reason: "changes more than 5 replicas" },
  },
  {
    name: "scale with unknown current replicas",
    action: "kubectl.scale",
    input: scale(4),
    current: null,
    stage: 3,
    want: { decision: "deny", tier: "T1", reason: "current replica count is unknown" },
  },
  {
    name: "scale at the bounds runs",
    action: "kubectl.scale",
    input: scale(20),
    current: 15,
    stage: 2,
    want: { decision: "allow", tier: "T1" },
  },
  {
    name: "viewer cannot write",
    action: "kubectl.scale",
    input: scale(4),
    current: 3,
    roles: ["viewer"],
    stage: 3,
    want: { decision: "deny", tier: "T1", reason: "may not request T1 writes" },
  },
  {
    name: "approver alone cannot request",
    action: "helm.upgrade",
    input: release,
    roles: ["approver"],
    stage: 3,
    want: { decision: "deny", tier: "T2", reason: "roles that may: admin, operator" },
  },
  {
    name: "viewer can read",
    action: "kubectl.describe",
    input: named,
    roles: ["viewer"],
    stage: 1,
    want: { decision: "allow", tier: "T0" },
  },
  {
    name: "no role cannot read",
    action: "kubectl.get",
    input: named,
    roles: [],
    stage: 3,
    want: { decision: "deny", tier: "T0", reason: "has no role that may read" },
  },
  {
    name: "service actor cannot request T3",
    action: "vault.kv_put",
    input: secret,
    kind: "service",
    now: IN_WINDOW,
    stage: 3,
    want: { decision: "deny", tier: "T3", reason: "service actors may not request T3" },
  },
  {
    name: "service actor may request T2",
    action: "helm.upgrade",
    input: release,
    kind: "service",
    stage: 3,
    want: { decision: "require_approval", tier: "T2" },
  },
  {
    name: "unknown environment write",
    action: "kubectl.annotate",
    input: { ...named, annotations: { a: "b" } },
    target: { environment: "moon" },
    stage: 3,
    want: { decision: "deny", tier: "T1", reason: "environment moon is not configured" },
  },
];

function inputFor(c: Case): PolicyInput {
  const step = {
    step_id: "s1",
    action_id: c.action,
    input: c.input ?? {},
    target: { environment: "staging", service: "checkout", ...c.target },
  };
  const approvals: PolicyApproval[] | undefined = c.approvals?.map((approver, i) => ({
    approver,
    at: new Date(Date.UTC(2026, 2, 10, 13, i)).toISOString(),
  }));
  return buildPolicyInput(
    step,
    action(c.action),
    { id: "alice", kind: c.kind ?? "user", roles: [...(c.roles ?? ["operator"])] },
    {
      plan_id: "plan-1",
      source: "api",
      stage: c.stage,
      approvals,
      current_replicas: c.current,
      blast_radius: c.blast,
      tier_override: c.override,
      now: c.now ?? IN_WINDOW,
    },
  );
}

before(async () => {
  assert.ok(opa, "opa binary not found: set OPA or run scripts/setup");
  dir = await mkdtemp(join(tmpdir(), "wheelhouse-policy-"));
  // The real build: fmt, strict check, opa test with coverage, then the wasm bundle.
  await run("bash", [join(POLICIES_DIR, "check.sh"), join(dir, "build")], { env: { ...process.env, OPA: opa } });
  bundlePath = join(dir, "build", "bundle.tar.gz");
});

after(async () => {
  for (const s of services) await s.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("TestPolicyEvaluate", async (t) => {
  assert.ok(CASES.length >= 40, `${CASES.length} cases`);
  const policy = await service({ stage: 3 });
  const expectedRevision = (await readFile(join(dir, "build", "revision"), "utf8")).trim();
  assert.equal(policy.revision, `${expectedRevision}+stage.3`);
  for (const c of CASES) {
    await t.test(c.name, () => {
      const got = policy.evaluatePolicy(inputFor(c));
      const context = JSON.stringify(got);
      assert.equal(got.decision, c.want.decision, context);
      assert.equal(got.tier, c.want.tier, context);
      if (c.want.approvers !== undefined) assert.equal(got.approvers_required, c.want.approvers, context);
      if (c.want.reason)
        assert.ok(
          got.reasons.some((r) => r.includes(c.want.reason ?? "")),
          context,
        );
      assert.equal(got.policy_revision, policy.revision);
      if (got.decision === "deny") assert.equal(got.ttl, 0);
      else assert.ok(got.ttl > 0);
    });
  }

  await t.test("the data's own stage (1) applies without an override", async () => {
    const dataStage = await service();
    const got = dataStage.evaluatePolicy(inputFor({ ...CASES[3], stage: 3 } as Case));
    assert.equal(got.decision, "require_approval");
    assert.equal(dataStage.revision, expectedRevision);
  });

  await t.test("constraints for the executor", () => {
    const got = policy.evaluatePolicy(
      inputFor({
        name: "",
        action: "kubectl.scale",
        input: scale(6),
        current: 4,
        target: { environment: "production" },
        stage: 3,
        want: { decision: "allow", tier: "T2" },
      }),
    );
    assert.deepEqual(got.constraints, { max_replicas: 50, allowed_namespaces: ["shop"], dry_run_first: true });
    assert.equal(got.ttl, 3600);
    const outside = policy.evaluatePolicy(inputFor(CASES.find((c) => c.name.startsWith("T3 outside")) as Case));
    assert.deepEqual(outside.constraints, { window_opens_at: "2026-03-16T09:00:00Z" });
  });
});

// --- Differential: opa eval (Go, on the Rego source) vs the wasm path -------

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generateInputs(count: number, seed: number): PolicyInput[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (p: number) => random() < p;
  const ids = [
    ...catalog.actions().map((a) => a.id),
    "kubectl.delete",
    "kubectl.drain",
    "kubectl.exec",
    "terraform.apply",
  ];
  const roleSets = [
    ["operator"],
    ["viewer"],
    ["approver"],
    ["admin"],
    [],
    ["viewer", "operator"],
    ["approver", "admin"],
  ];
  const environments = ["dev", "staging", "production", "production", "moon"];
  const namespaces = ["shop", "payments", "kube-system", "vault", null];
  const accounts = [null, null, "prod-main", "security"];
  const offsets = ["Z", "+02:00", "-05:30", ".123Z", "+00:00"];
  const inputs: PolicyInput[] = [];
  for (let i = 0; i < count; i++) {
    const id = pick(ids);
    const catalogAction = action(id);
    const replicas = Math.floor(random() * 30);
    const names = pick([["checkout"], ["checkout-*"], [], ["a", "b"]]);
    const step = {
      step_id: `s${i}`,
      action_id: id,
      input: {
        kind: "deployment",
        ...(names.length === 1 ? { name: names[0] } : {}),
        namespace: pick(namespaces) ?? undefined,
        replicas,
        desired_count: replicas,
        desired_capacity: replicas,
        ...(chance(0.1) ? { label_selector: "app=x" } : {}),
      },
      target: { environment: pick(environments), service: "checkout", account: pick(accounts) ?? undefined },
    };
    const minutes = Math.floor(random() * 3 * 365 * 1440);
    const when = new Date(Date.UTC(2026, 0, 1) + minutes * 60_000);
    const built = buildPolicyInput(
      step,
      catalogAction,
      { id: pick(["alice", "bob"]), kind: pick(["user", "user", "service", "system"]), roles: pick(roleSets) },
      {
        plan_id: `plan-${i}`,
        source: "api",
        stage: chance(0.8) ? Math.floor(random() * 4) : undefined,
        approvals: chance(0.5)
          ? Array.from({ length: Math.floor(random() * 4) }, () => ({
              approver: pick(["bob", "carol", "dave", "alice"]),
              at: "2026-01-01T00:00:00Z",
            }))
          : undefined,
        current_replicas: chance(0.9) ? Math.floor(random() * 30) : null,
        blast_radius: Math.floor(random() * 30),
        tier_override: chance(0.15) ? pick(["T0", "T1", "T2", "T3"] as const) : undefined,
        now: when,
      },
    );
    // Exercise the hand-written RFC 3339 parser with offsets and fractions.
    const iso = when.toISOString().slice(0, 19);
    let input: PolicyInput = { ...built, time: `${iso}${pick(offsets)}` };
    if (chance(0.05)) input = { ...input, time: pick(["yesterday", "2026-02-30T25:00:00Z", "2026-01-01T00:00:00"]) };
    if (chance(0.04)) {
      const { actor: _drop, ...rest } = input;
      input = rest as PolicyInput;
    }
    inputs.push(input);
  }
  return inputs;
}

describe("differential: opa eval vs wasm", () => {
  test("500+ generated inputs decide identically", async () => {
    const inputs = generateInputs(600, 20260310);
    const work = join(dir, "differential");
    await mkdir(work, { recursive: true });
    const data = JSON.parse(await readFile(DATA, "utf8"));
    data.wheelhouse.config.stage = 3;
    // Production's windows are in time zones, one across midnight; the rest keep the UTC "*" window.
    data.wheelhouse.config.change_windows.production = ZONED_WINDOWS;
    await writeFile(join(work, "data.json"), JSON.stringify(data));
    await writeFile(
      join(work, "batch.rego"),
      [
        "package wheelhouse.batch",
        "",
        "results := [d |",
        "\tsome x in input.inputs",
        "\td := data.wheelhouse.authz.decision with input as x",
        "]",
        "",
      ].join("\n"),
    );
    // opa eval gets the inputs as the service hands them to wasm: with the zones' offsets added.
    const zones = changeWindowZones(data);
    await writeFile(join(work, "inputs.json"), JSON.stringify({ inputs: inputs.map((i) => withTimeZones(i, zones)) }));
    const { stdout } = await run(
      opa as string,
      [
        "eval",
        "--format",
        "json",
        "-d",
        REGO,
        "-d",
        join(work, "data.json"),
        "-d",
        join(work, "batch.rego"),
        "-i",
        join(work, "inputs.json"),
        "data.wheelhouse.batch.results",
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const goResults = JSON.parse(stdout).result[0].expressions[0].value as unknown[];
    assert.equal(goResults.length, inputs.length);

    const policy = await createPolicyService({ bundlePath, data, timeoutMs: 5_000, logger, watch: false });
    services.push(policy);
    const seen = new Set<string>();
    const windowReasons = new Set<string>();
    inputs.forEach((input, i) => {
      const { policy_revision: _revision, ...wasm } = policy.evaluatePolicy(input);
      assert.deepEqual(wasm, goResults[i], `input ${i}: ${JSON.stringify(input)}`);
      seen.add(`${wasm.decision}/${wasm.tier}`);
      for (const r of wasm.reasons) {
        if (r.includes(" Europe/Berlin (")) windowReasons.add("Berlin");
        if (r.includes(" America/New_York (")) windowReasons.add("New York");
        if (r === "inside the change window" && input.resources?.environment === "production")
          windowReasons.add("inside");
      }
    });
    // The zoned windows must have been both closed (each zone named) and open, or they were not compared.
    assert.deepEqual([...windowReasons].sort(), ["Berlin", "New York", "inside"]);
    // The generator must reach every decision and tier, or the comparison proves little.
    for (const decision of ["allow", "require_approval", "deny"]) {
      assert.ok(
        [...seen].some((s) => s.startsWith(`${decision}/`)),
        `no ${decision} among ${[...seen]}`,
      );
    }
    for (const tier of ["T0", "T1", "T2", "T3"]) {
      assert.ok(
        [...seen].some((s) => s.endsWith(`/${tier}`)),
        `no ${tier} among ${[...seen]}`,
      );
    }
  });
});

// --- Fail closed ---------------------------------------------------------------

async function buildTestBundle(name: string, rego: string): Promise<string> {
  const src = join(dir, `${name}.rego`);
  await writeFile(src, rego);
  const out = join(dir, `${name}.tar.gz`);
  await buildPolicyBundle({ opa: opa as string, sources: [src], outPath: out });
  return out;
}

const validInput = () => inputFor(CASES[3] as Case);

describe("fail closed", () => {
  test("missing bundle denies, then serves once the bundle appears", async () => {
    const path = join(dir, "late", "bundle.tar.gz");
    const policy = await service({ path });
    assert.equal(policy.revision, null);
    const got = policy.evaluatePolicy(validInput());
    assert.equal(got.decision, "deny");
    assert.match(got.reasons[0] ?? "", /policy bundle not loaded: .*ENOENT/);
    assert.equal(got.policy_revision, "none");
    const plan = policy.evaluatePlan([validInput()]);
    assert.equal(plan.decision, "deny");

    await mkdir(join(dir, "late"), { recursive: true });
    await copyFile(bundlePath, path);
    const reloaded = await policy.reload();
    assert.equal(reloaded.ok, true);
    assert.notEqual(policy.revision, null);
    assert.equal(policy.evaluatePolicy(validInput()).decision, "require_approval");
  });

  test("corrupted bundle denies", async () => {
    const garbage = join(dir, "garbage.tar.gz");
    await writeFile(garbage, "this is not a bundle");
    const policy = await service({ path: garbage });
    const got = policy.evaluatePolicy(validInput());
    assert.equal(got.decision, "deny");
    assert.match(got.reasons[0] ?? "", /bundle is not gzip/);

    const truncated = join(dir, "truncated.tar.gz");
    const bytes = await readFile(bundlePath);
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const policy2 = await service({ path: truncated });
    assert.equal(policy2.evaluatePolicy(validInput()).decision, "deny");
  });

  test("bundle without the entrypoint denies", async () => {
    const src = join(dir, "other2.rego");
    await writeFile(src, "package other\n\nx := 1\n");
    const out = join(dir, "other2.tar.gz");
    await buildPolicyBundle({ opa: opa as string, sources: [src], outPath: out, entrypoint: "other/x" });
    const policy = await service({ path: out });
    const got = policy.evaluatePolicy(validInput());
    assert.equal(got.decision, "deny");
    assert.match(got.reasons[0] ?? "", /no entrypoint wheelhouse\/authz\/decision/);
  });

  test("input with missing fields denies, naming them", async () => {
    const policy = await service({ stage: 3 });
    const partial = { actor: { id: "alice", kind: "user", roles: ["operator"] }, time: "2026-03-10T14:05:00Z" };
    const got = policy.evaluatePolicy(partial as unknown as PolicyInput);
    assert.equal(got.decision, "deny");
    assert.ok(got.reasons.includes("input.action.id is missing or malformed"), JSON.stringify(got.reasons));
    assert.ok(got.reasons.includes("input.resources.environment is missing or malformed"));
    const nothing = policy.evaluatePolicy(undefined as unknown as PolicyInput);
    assert.equal(nothing.decision, "deny");
  });

  test("evaluation errors deny, and the next evaluation works", async () => {
    const path = await buildTestBundle(
      "erroring",
      [
        "package wheelhouse.authz",
        "",
        'ok := {"decision": "allow", "tier": "T0", "reasons": [], "approvers_required": 0, "constraints": {}, "ttl": 60}',
        "",
        "decision := ok if not input.boom",
        "",
        // time.now_ns is left to the host by the wasm target, and opa-wasm does not implement it.
        "decision := time.now_ns() if input.boom",
        "",
      ].join("\n"),
    );
    const policy = await service({ path });
    const boom = policy.evaluatePolicy({ ...validInput(), boom: true } as PolicyInput);
    assert.equal(boom.decision, "deny");
    assert.match(boom.reasons[0] ?? "", /policy evaluation failed: .*not implemented/);
    assert.equal(policy.evaluatePolicy(validInput()).decision, "allow");

    const circular: Record<string, unknown> = { ...validInput() };
    circular.self = circular;
    const unserialisable = policy.evaluatePolicy(circular as unknown as PolicyInput);
    assert.equal(unserialisable.decision, "deny");
    assert.match(unserialisable.reasons[0] ?? "", /policy evaluation failed/);
  });

  test("malformed output denies", async () => {
    const path = await buildTestBundle(
      "malformed",
      'package wheelhouse.authz\n\ndecision := {"decision": "maybe", "tier": "T9"}\n',
    );
    const policy = await service({ path });
    // A bundle that cannot decide its self-test never serves.
    assert.equal(policy.revision, null);
    const got = policy.evaluatePolicy(validInput());
    assert.equal(got.decision, "deny");
    assert.match(got.reasons[0] ?? "", /malformed decision at decision/);
  });

  test("an evaluation over budget denies; so does one that outgrows its memory", async () => {
    const path = await buildTestBundle(
      "huge",
      [
        "package wheelhouse.authz",
        "",
        'fast := {"decision": "allow", "tier": "T0", "reasons": [], "approvers_required": 0, "constraints": {}, "ttl": 60}',
        "",
        "decision := fast if not input.huge",
        "",
        'decision := object.union(fast, {"ttl": count(numbers.range(1, 100000000))}) if input.huge',
        "",
      ].join("\n"),
    );
    // The budget is measured with the service's clock: this one makes the next evaluation take
    // `takesMs`, so the test does not depend on how fast this machine is right now.
    let takesMs = 0;
    let reads = 0;
    const clock = () => (reads++ % 2 === 0 ? 0 : takesMs);
    const policy = await createPolicyService({ bundlePath: path, timeoutMs: 5, clock, logger, watch: false });
    services.push(policy);
    assert.equal(policy.evaluatePolicy(validInput()).decision, "allow");
    takesMs = 5.5;
    const got = policy.evaluatePolicy(validInput());
    assert.equal(got.decision, "deny");
    assert.match(got.reasons[0] ?? "", /took 5\.500 ms, over the 5 ms budget/);
    takesMs = 5;
    assert.equal(policy.evaluatePolicy(validInput()).decision, "allow", "exactly the budget is within it");
    takesMs = 0;
    const huge = policy.evaluatePolicy({ ...validInput(), huge: true } as PolicyInput);
    assert.equal(huge.decision, "deny");
    assert.match(huge.reasons[0] ?? "", /policy evaluation failed: opa_malloc/);
    assert.equal(policy.evaluatePolicy(validInput()).decision, "allow");
  });
});

describe("data override", () => {
  test("a data document passed in replaces the bundle's and shows in the revision", async () => {
    const data = JSON.parse(await readFile(DATA, "utf8"));
    data.wheelhouse.config.stage = 2;
    data.wheelhouse.config.environments.staging.max_replicas = 4;
    const policy = await createPolicyService({ bundlePath, data, timeoutMs: 5_000, logger, watch: false });
    services.push(policy);
    assert.match(policy.revision ?? "", /^[0-9a-f]{64}\+data\.[0-9a-f]{12}$/);
    const five = { ...(CASES[3] as Case), input: scale(5) };
    const got = policy.evaluatePolicy(inputFor(five));
    assert.equal(got.decision, "deny");
    assert.ok(got.reasons.some((r) => r.includes("exceed the maximum of 4")));
    assert.equal(policy.evaluatePolicy(inputFor(CASES[3] as Case)).decision, "allow");
  });
});

// --- Change windows in time zones ----------------------------------------------

describe("change windows in time zones", () => {
  async function zoned(windows: unknown): Promise<PolicyService> {
    const data = JSON.parse(await readFile(DATA, "utf8"));
    data.wheelhouse.config.stage = 3;
    data.wheelhouse.config.change_windows.production = windows;
    const policy = await createPolicyService({ bundlePath, data, timeoutMs: 5_000, logger, watch: false });
    services.push(policy);
    return policy;
  }

  /** A T3 secret write to production at `now`; the caller passes no time zones: the service adds them. */
  const t3At = (now: string) =>
    inputFor({
      name: "",
      action: "vault.kv_put",
      input: secret,
      target: { environment: "production" },
      stage: 3,
      now: new Date(now),
      want: { decision: "deny", tier: "T3" },
    });

  test("Berlin office hours follow the wall clock across the 2026-03-29 change to summer time", async () => {
    const policy = await zoned(ZONED_WINDOWS.slice(0, 1));
    const decide = (now: string) => policy.evaluatePolicy(t3At(now)).decision;
    // Thursday before the change: 09:00-16:00 Berlin is 08:00-15:00 UTC.
    assert.equal(decide("2026-03-26T07:59:00Z"), "deny");
    assert.equal(decide("2026-03-26T08:00:00Z"), "require_approval");
    assert.equal(decide("2026-03-26T14:59:00Z"), "require_approval");
    assert.equal(decide("2026-03-26T15:00:00Z"), "deny");
    // Monday after it: 07:00-14:00 UTC.
    assert.equal(decide("2026-03-30T06:59:00Z"), "deny");
    assert.equal(decide("2026-03-30T07:00:00Z"), "require_approval");
    assert.equal(decide("2026-03-30T14:00:00Z"), "deny");
    // Friday: the next opening is Monday 09:00 summer time, named in Berlin time and in UTC.
    const friday = policy.evaluatePolicy(t3At("2026-03-27T12:00:00Z"));
    assert.deepEqual(friday.reasons, [
      "outside the change window for production; the next window opens at Mon 09:00 Europe/Berlin (2026-03-30T07:00:00Z)",
    ]);
    assert.deepEqual(friday.constraints, { window_opens_at: "2026-03-30T07:00:00Z" });
  });

  test("a New York window across midnight is open on both sides of it, through the change to EDT", async () => {
    const policy = await zoned(ZONED_WINDOWS);
    const decide = (now: string) => policy.evaluatePolicy(t3At(now)).decision;
    // Saturday 2026-03-07 22:00 EST (03:00 UTC) to Sunday 04:00 EDT (08:00 UTC).
    assert.equal(decide("2026-03-08T02:59:00Z"), "deny");
    assert.equal(decide("2026-03-08T03:00:00Z"), "require_approval");
    assert.equal(decide("2026-03-08T04:59:00Z"), "require_approval"); // 23:59 Saturday
    assert.equal(decide("2026-03-08T05:00:00Z"), "require_approval"); // 00:00 Sunday
    assert.equal(decide("2026-03-08T07:59:00Z"), "require_approval");
    assert.equal(decide("2026-03-08T08:00:00Z"), "deny");
  });

  test("the service's offsets match what a replay carries, and a recorded input keeps its own", async () => {
    const policy = await zoned(ZONED_WINDOWS);
    const input = t3At("2026-03-27T12:00:00Z");
    const replayed = withTimeZones(
      input,
      changeWindowZones({ wheelhouse: { config: { change_windows: { p: ZONED_WINDOWS } } } }),
    );
    assert.deepEqual(policy.evaluatePolicy(replayed).reasons, policy.evaluatePolicy(input).reasons);
    // Recorded offsets that say Berlin was at UTC+0 decide as if it were.
    const recorded = {
      ...input,
      time: "2026-03-26T08:30:00Z",
      time_zones: { "Europe/Berlin": [{ from: 0, offset: 0 }] },
    };
    assert.equal(policy.evaluatePolicy(recorded).decision, "deny");
    assert.equal(policy.evaluatePolicy({ ...recorded, time_zones: {} }).decision, "require_approval");
  });

  test("data naming an unknown time zone or a malformed time is refused, naming the field and the fix", async () => {
    const policy = await zoned([{ days: ["Mon"], start: "9:00", end: "16:00", tz: "Europe/Berln" }]);
    assert.equal(policy.revision, null);
    const got = policy.evaluatePolicy(t3At("2026-03-26T08:30:00Z"));
    assert.equal(got.decision, "deny");
    const reason = got.reasons[0] ?? "";
    assert.match(reason, /policy\.data_path/);
    assert.match(reason, /change_windows\.production\[0\]\.start: "9:00" is not a time of day\. Fix: write HH:MM/);
    assert.match(reason, /change_windows\.production\[0\]\.tz: "Europe\/Berln" is not a time zone .*"Europe\/Berlin"/);
  });
});

// --- Plans ----------------------------------------------------------------------

describe("evaluatePlan", () => {
  test("the strictest step decides; approvers max, ttl min", async () => {
    const policy = await service({ stage: 3 });
    const byName = (name: string) => inputFor(CASES.find((c) => c.name === name) as Case);
    const read = {
      ...byName("stage 0 allows reads"),
      context: { ...byName("stage 0 allows reads").context, step_id: "r" },
    };
    const plan = policy.evaluatePlan([
      read,
      byName("helm upgrade is T2"),
      byName("secret rotation is T3 with two approvers"),
    ]);
    assert.equal(plan.decision, "require_approval");
    assert.equal(plan.tier, "T3");
    assert.equal(plan.approvers_required, 2);
    assert.equal(plan.ttl, 300);
    assert.equal(plan.steps.length, 3);
    assert.equal(plan.steps[0]?.step_id, "r");
    assert.ok(plan.reasons.some((r) => r.startsWith("s1: ")));
    assert.ok(plan.steps.every((s) => s.policy_revision === plan.policy_revision));

    const denied = policy.evaluatePlan([read, byName("protected namespace")]);
    assert.equal(denied.decision, "deny");
    assert.equal(denied.ttl, 0);
    assert.ok(denied.reasons.some((r) => r.includes("kube-system is protected")));

    assert.equal(policy.evaluatePlan([]).decision, "deny");
    assert.equal(policy.evaluatePlan([read]).decision, "allow");
  });
});

// --- Reload -------------------------------------------------------------------

describe("reload", () => {
  test("a new bundle replaces the old one without a failing window; a bad one is refused", async () => {
    const live = join(dir, "live");
    await mkdir(live, { recursive: true });
    const path = join(live, "bundle.tar.gz");
    await copyFile(bundlePath, path);
    const policy = await service({ path, stage: 3, watch: true });
    const first = policy.revision;
    assert.ok(first);

    // Version 2: staging may only reach 4 replicas.
    const v2 = join(dir, "v2");
    await mkdir(v2, { recursive: true });
    const data = JSON.parse(await readFile(DATA, "utf8"));
    data.wheelhouse.config.environments.staging.max_replicas = 4;
    await writeFile(join(v2, "data.json"), JSON.stringify(data));
    await buildPolicyBundle({
      opa: opa as string,
      sources: [REGO, join(v2, "data.json")],
      outPath: join(v2, "bundle.tar.gz"),
      revision: "v2",
    });

    const five = inputFor({ ...(CASES[3] as Case), input: scale(5) });
    assert.equal(policy.evaluatePolicy(five).decision, "allow");

    // Keep deciding while the file is swapped under the watcher: every answer must come from v1 or v2.
    const answers: PolicyDecision[] = [];
    let stop = false;
    const hammer = (async () => {
      while (!stop) {
        answers.push(policy.evaluatePolicy(five));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await copyFile(join(v2, "bundle.tar.gz"), join(live, ".bundle.tmp"));
    await rename(join(live, ".bundle.tmp"), path);
    await waitFor("the watcher to load v2", () => policy.revision === "v2+stage.3", { timeoutMs: 5000 });
    stop = true;
    await hammer;

    assert.ok(answers.length > 0);
    for (const a of answers) {
      if (a.policy_revision === first) assert.equal(a.decision, "allow", JSON.stringify(a));
      else {
        assert.equal(a.policy_revision, "v2+stage.3", JSON.stringify(a));
        assert.equal(a.decision, "deny");
      }
    }
    const after2 = policy.evaluatePolicy(five);
    assert.equal(after2.decision, "deny");
    assert.ok(after2.reasons.some((r) => r.includes("exceed the maximum of 4")));

    // A corrupt replacement is refused and v2 keeps serving.
    await writeFile(join(live, ".bundle.tmp"), "garbage");
    await rename(join(live, ".bundle.tmp"), path);
    const refused = await policy.reload();
    assert.equal(refused.ok, false);
    assert.equal(refused.revision, "v2+stage.3");
    assert.match(refused.error ?? "", /not gzip/);
    assert.equal(policy.revision, "v2+stage.3");
    assert.equal(policy.evaluatePolicy(inputFor(CASES[3] as Case)).decision, "allow");

    // An explicit reload of a good bundle works without the watcher's help.
    await copyFile(bundlePath, join(live, ".bundle.tmp"));
    await rename(join(live, ".bundle.tmp"), path);
    const back = await policy.reload();
    assert.equal(back.ok, true);
    assert.equal(policy.revision, first);
  });
});

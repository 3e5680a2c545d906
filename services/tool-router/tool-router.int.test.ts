import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CAPABILITY_HEADER,
  type CapabilityPurpose,
  createCapabilityMinter,
  createCapabilityVerifier,
  findExecutable,
  generateCapabilityKeys,
  loadCatalog,
} from "../../lib/tools/index.ts";
import {
  clusterToolPath,
  createTestDeployment,
  createTestNamespace,
  FIXTURE_BIN,
  kubeGet,
  recordedArgv,
  type TestNamespace,
  testCluster,
} from "../../test/support/index.ts";
import { createGithubApi } from "./github.ts";
import { createToolRouterTransport, type ToolRouterTransport } from "./http.ts";
import { createToolRouter, type ToolRouterEvent } from "./router.ts";
import { createSandboxProcessRunner } from "./spawn.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const VAULT_TOKEN = "hvs.fixture-vault-token-0123456789abcdef";
const NEW_PASSWORD = "n3w-db-password-for-test";

// biome-ignore lint/suspicious/noExplicitAny: RPC answers are JSON read field by field in assertions
type Json = any;

/** The orchestrator's part in these tests: a capability for each call (capability.int.test.ts tests refusals). */
const keys = generateCapabilityKeys();
const minter = createCapabilityMinter({ signingKey: keys.signingKey });
const capabilities = () => createCapabilityVerifier({ verifyKey: keys.verifyKey });

async function capabilityFor(purpose: CapabilityPurpose, call: Record<string, unknown>): Promise<string> {
  return minter.mint(
    {
      purpose,
      execution_id: String(call.execution_id ?? "-"),
      step_id: String(call.step_id ?? "-"),
      action_id: String(call.action_id ?? "-"),
      input: (call.input ?? {}) as Record<string, unknown>,
      tool_call_id: call.tool_call_id as string | undefined,
      dry_run: call.dry_run === true,
      plan_id: "plan-router-test",
      plan_revision: 1,
      plan_digest: "0".repeat(64),
    },
    { ttlMs: 60_000 },
  );
}

/** Calls an RPC as the orchestrator would: execution and step ids filled in, with a capability for the call. */
async function rpc(
  base: string,
  method: string,
  body: Record<string, unknown>,
): Promise<{ status: number; body: Json }> {
  const purpose: CapabilityPurpose | null =
    method === "ExecuteTool"
      ? "execute"
      : method === "GetResource"
        ? "read"
        : method === "StreamToolLogs"
          ? "logs"
          : null;
  const call = purpose === "execute" || purpose === "read" ? { execution_id: "ex-0", step_id: "s1", ...body } : body;
  const response = await fetch(`${base}/rpc/${method}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(purpose ? { [CAPABILITY_HEADER]: await capabilityFor(purpose, call) } : {}),
    },
    body: JSON.stringify(call),
  });
  return { status: response.status, body: await response.json() };
}

async function readNdjson(response: Response): Promise<Json[]> {
  const text = await response.text();
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
}

describe("tool router over HTTP (the real kubectl against the local cluster; fixture argocd, vault, boundary)", () => {
  let dir: string;
  let argvLog: string;
  let base: string;
  let transport: ToolRouterTransport;
  let ns: TestNamespace;
  const events: ToolRouterEvent[] = [];
  const evidence: { kind: string; blob: string }[] = [];
  const checkout = () => kubeGet(`deployment/checkout`, `--namespace=${ns.name}`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-router-"));
    argvLog = join(dir, "argv.log");
    ns = await createTestNamespace("wh-router");
    await createTestDeployment(ns.name, "checkout", { replicas: 2 });
    const toolPath = clusterToolPath(FIXTURE_BIN);
    const env = {
      PATH: toolPath,
      HOME: dir,
      KUBECONFIG: testCluster.kubeconfig,
      WH_FIXTURE_ARGV_LOG: argvLog,
      WHEELHOUSE_TOOLS__ENV_ALLOW: "[PATH, HOME, KUBECONFIG, WH_FIXTURE_ARGV_LOG]",
      WHEELHOUSE_TOOLS__CREDENTIALS: "{vault: {VAULT_TOKEN: 'env:WH_TEST_VAULT_TOKEN'}}",
      WHEELHOUSE_TOOLS__SECRET_SOURCES: "['env:WH_NEW_DB_*']",
      WH_TEST_VAULT_TOKEN: VAULT_TOKEN,
      WH_NEW_DB_PASSWORD: NEW_PASSWORD,
    };
    const router = createToolRouter({
      catalog: loadCatalog(),
      runInSandbox: createSandboxProcessRunner({ env }),
      isInstalled: async (binary) => (await findExecutable(binary, toolPath)) !== null,
      onEvent: (e) => {
        events.push(e);
      },
      storeEvidence: async (kind, blob) => {
        const text = Buffer.from(blob).toString("utf8");
        evidence.push({ kind, blob: text });
        return { evidence_id: `ev-${evidence.length}`, sha256: sha(text) };
      },
    });
    transport = createToolRouterTransport({ router, capabilities: capabilities() });
    base = await transport.start({ host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await transport.stop();
    await ns.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  it("ListTools returns the catalog with what is installed", async () => {
    const { status, body } = await rpc(base, "ListTools", {});
    assert.equal(status, 200);
    const scale = body.tools.find((t: { id: string }) => t.id === "kubectl.scale");
    assert.equal(scale.kind, "write");
    assert.equal(scale.installed, true);
    assert.equal(scale.via, "cli");
    assert.equal(scale.input.additionalProperties, false);
    assert.ok(body.tools.length >= 30);
  });

  it("ExecuteTool runs kubectl in a sandbox process against the cluster, with logs streamed while it runs", async () => {
    const toolCallId = "tc-scale-1";
    // Open the log stream before the call starts; it waits for the call.
    const logs = fetch(`${base}/rpc/StreamToolLogs`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [CAPABILITY_HEADER]: await capabilityFor("logs", { tool_call_id: toolCallId }),
      },
      body: JSON.stringify({ tool_call_id: toolCallId, wait_ms: 20_000 }),
    });
    const { status, body } = await rpc(base, "ExecuteTool", {
      tool_call_id: toolCallId,
      execution_id: "ex-1",
      step_id: "s1",
      action_id: "kubectl.scale",
      input: { kind: "deployment", name: "checkout", namespace: ns.name, replicas: 4 },
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.status, "succeeded", body.stderr.text);
    assert.equal(body.via, "cli");
    assert.equal(body.binary, testCluster.kubectl);
    assert.deepEqual(body.argv, ["kubectl", "scale", "deployment/checkout", "--replicas=4", `--namespace=${ns.name}`]);
    assert.equal(body.stdout.text, "deployment.apps/checkout scaled");
    assert.equal(body.dry_run, null);
    assert.equal((await checkout())?.spec.replicas, 4, "the cluster's Deployment now asks for 4 replicas");

    const messages = await readNdjson(await logs);
    assert.deepEqual(messages, [
      { type: "output", seq: 0, stream: "stdout", line: "deployment.apps/checkout scaled" },
      { type: "end", status: "succeeded" },
    ]);

    const mine = events.filter((e) => e.payload.tool_call_id === toolCallId);
    assert.deepEqual(
      mine.map((e) => e.type),
      ["tool_call.started", "tool_call.output", "tool_call.completed"],
    );
    const completed = mine[2] as Extract<ToolRouterEvent, { type: "tool_call.completed" }>;
    assert.equal(completed.payload.exit_code, 0);
    assert.equal(completed.payload.stdout_sha256, sha("deployment.apps/checkout scaled"));
    assert.equal(completed.payload.evidence_id, body.evidence.evidence_id);
    assert.match(evidence.at(-1)?.blob ?? "", /deployment.apps\/checkout scaled/);
  });

  it("a kubectl dry run is the server's: it carries the result as the diff and changes nothing", async () => {
    const before = await checkout();
    const k = await rpc(base, "ExecuteTool", {
      action_id: "kubectl.scale",
      dry_run: true,
      input: { kind: "deployment", name: "checkout", namespace: ns.name, replicas: 0 },
    });
    assert.equal(k.body.status, "succeeded", k.body.stderr.text);
    assert.ok(k.body.argv.includes("--dry-run=server"));
    assert.equal(k.body.dry_run.diff, "deployment.apps/checkout scaled (server dry run)");
    const after = await checkout();
    assert.equal(after?.spec.replicas, before?.spec.replicas);
    assert.equal(after?.metadata.resourceVersion, before?.metadata.resourceVersion, "the object was not written");
  });

  it("an argocd dry run is app diff, and its exit 1 is success (fixture argocd)", async () => {
    const a = await rpc(base, "ExecuteTool", {
      action_id: "argocd.app_sync",
      dry_run: true,
      input: { app: "checkout", revision: "3f9c2ab" },
    });
    assert.deepEqual(a.body.argv, ["argocd", "app", "diff", "checkout", "--revision=3f9c2ab"]);
    assert.equal(a.body.exit_code, 1);
    assert.equal(a.body.status, "succeeded");
    assert.match(a.body.dry_run.diff, /\+ {8}image: registry.example.com\/checkout:1.5.0/);
  });

  it("refuses a malicious input with a problem naming the field, and runs nothing", async () => {
    const before = await checkout();
    const r = await rpc(base, "ExecuteTool", {
      tool_call_id: "tc-evil",
      action_id: "kubectl.scale",
      input: { kind: "deployment", name: "--all", namespace: ns.name, replicas: 0 },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, "validation_failed");
    assert.equal(r.body.field, "input.name");
    assert.ok(r.body.fix);
    const mine = events.filter((e) => e.payload.tool_call_id === "tc-evil");
    assert.deepEqual(
      mine.map((e) => e.type),
      ["tool_call.completed"],
      "no process started: a refused call is recorded as completed only",
    );
    assert.ok(mine[0]?.type === "tool_call.completed");
    assert.equal(mine[0].payload.status, "refused");
    const after = await checkout();
    assert.equal(after?.metadata.resourceVersion, before?.metadata.resourceVersion, "the cluster is untouched");

    const unknown = await rpc(base, "ExecuteTool", { action_id: "kubectl.exec", input: {} });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.field, "action_id");
    const extra = await rpc(base, "ExecuteTool", { action_id: "kubectl.get", input: {}, shell: true });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.errors[0].field, "body.shell");
  });

  it("vault kv_put passes secrets as files and never lets them into output, events or the result (fixture vault)", async () => {
    const r = await rpc(base, "ExecuteTool", {
      tool_call_id: "tc-vault",
      action_id: "vault.kv_put",
      input: { path: "apps/checkout/db", cas: 4, data_refs: { password: "env:WH_NEW_DB_PASSWORD" } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, "succeeded", r.body.stderr.text);
    const call = recordedArgv(argvLog).at(-1) ?? [];
    assert.deepEqual(call.slice(0, 7), [
      "vault",
      "kv",
      "put",
      "-format=json",
      "-mount=secret",
      "-cas=4",
      "apps/checkout/db",
    ]);
    assert.match(call[7] ?? "", /^password=@\/.+\/secrets\/s0$/);
    const everything = JSON.stringify(r.body) + JSON.stringify(events) + JSON.stringify(evidence);
    assert.equal(everything.includes(NEW_PASSWORD), false, "the secret value never appears");
    assert.equal(everything.includes(VAULT_TOKEN), false);
    assert.equal(r.body.stderr.text, "debug: password=[REDACTED:injected_secret]");
  });

  it("vault kv_put refuses a data_ref outside tools.secret_sources and reads nothing (fixture vault)", async () => {
    const before = recordedArgv(argvLog).length;
    const r = await rpc(base, "ExecuteTool", {
      tool_call_id: "tc-vault-exfil",
      action_id: "vault.kv_put",
      input: { path: "apps/checkout/db", cas: 4, data_refs: { password: "env:WH_TEST_VAULT_TOKEN" } },
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.field, "input.data_refs.password");
    assert.match(r.body.fix, /tools\.secret_sources/);
    assert.equal(recordedArgv(argvLog).length, before, "vault never ran");
    assert.equal(JSON.stringify(r.body).includes(VAULT_TOKEN), false);
  });

  it("boundary session credentials are redacted (fixture boundary)", async () => {
    const r = await rpc(base, "ExecuteTool", {
      action_id: "boundary.targets_authorize_session",
      input: { target_id: "ttcp_1234567890" },
    });
    assert.equal(r.body.status, "succeeded");
    assert.equal(r.body.stdout.text.includes("pw-ultra-secret-77"), false);
    assert.equal(r.body.stdout.text.includes("at_Zx9yW8vU7tS6rQ5pO4nM3"), false);
  });

  it("GetResource reads the target's live state from the cluster through the matching read action", async () => {
    const r = await rpc(base, "GetResource", {
      action_id: "kubectl.scale",
      input: { kind: "deployment", name: "checkout", namespace: ns.name, replicas: 6 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.resource, { namespace: ns.name, kind: "deployment", name: "checkout", replicas: 6 });
    const live = await checkout();
    assert.equal(r.body.state.metadata.uid, live?.metadata.uid);
    assert.equal(r.body.state.spec.replicas, live?.spec.replicas, "the state before the change: what the cluster has");
    assert.equal(r.body.read.action_id, "kubectl.get");
    assert.equal(r.body.read.status, "succeeded");
  });
});

describe("gh API fallback when gh is not on the tool PATH", () => {
  let github: Server;
  let githubBase: string;
  let transport: ToolRouterTransport;
  let base: string;
  const requests: { method: string; url: string; auth: string | undefined; body: Json }[] = [];
  const token = "ghp_fixtureTokenForTheApiFallback0123";

  before(async () => {
    // Speaks GitHub's REST wire format for the two endpoints the fallback uses.
    github = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : null;
      requests.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization, body });
      const created = req.method === "POST" && req.url === "/repos/acme/deploys/pulls";
      const viewed = req.method === "GET" && req.url === "/repos/acme/deploys/pulls/42";
      if (!created && !viewed) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: "Not Found", documentation_url: "https://docs.github.com/rest" }));
        return;
      }
      res.writeHead(created ? 201 : 200, { "content-type": "application/json; charset=utf-8" });
      res.end(
        JSON.stringify({
          url: `${githubBase}/repos/acme/deploys/pulls/42`,
          html_url: "https://github.com/acme/deploys/pull/42",
          number: 42,
          state: "open",
          title: created ? body.title : "Scale checkout",
          draft: created ? body.draft : false,
          merged_at: null,
          head: { ref: created ? body.head : "wh/scale", sha: "3f9c2ab" },
          base: { ref: created ? body.base : "main", sha: "1a2b3c4" },
        }),
      );
    });
    await new Promise<void>((r) => github.listen(0, "127.0.0.1", r));
    const address = github.address();
    githubBase = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

    const router = createToolRouter({
      catalog: loadCatalog(),
      runInSandbox: async () => assert.fail("the CLI path must not be used when gh is missing"),
      // The tool PATH holds only the fixture CLIs: no gh there.
      isInstalled: async (binary) => (await findExecutable(binary, FIXTURE_BIN)) !== null,
      apis: { gh: createGithubApi({ apiBase: githubBase, token }) },
    });
    transport = createToolRouterTransport({ router, capabilities: capabilities() });
    base = await transport.start({ host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await transport.stop();
    await new Promise((r) => github.close(r));
  });

  it("ListTools says gh actions run via the API", async () => {
    const { body } = await rpc(base, "ListTools", {});
    const create = body.tools.find((t: { id: string }) => t.id === "gh.pr_create");
    assert.equal(create.installed, false);
    assert.equal(create.via, "api");
  });

  it("pr_create POSTs /repos/{o}/{r}/pulls and records via: api", async () => {
    const r = await rpc(base, "ExecuteTool", {
      action_id: "gh.pr_create",
      input: {
        repo: "acme/deploys",
        base: "main",
        head: "wh/scale",
        title: "Scale checkout",
        body: "Plan p-1\nstep s1",
      },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.via, "api");
    assert.equal(r.body.status, "succeeded");
    assert.deepEqual(r.body.request, { method: "POST", url: `${githubBase}/repos/acme/deploys/pulls` });
    assert.equal(r.body.stdout.text, "https://github.com/acme/deploys/pull/42");
    const sent = requests.at(-1);
    assert.equal(sent?.auth, `Bearer ${token}`);
    assert.deepEqual(sent?.body, {
      title: "Scale checkout",
      head: "wh/scale",
      base: "main",
      body: "Plan p-1\nstep s1",
      draft: false,
    });
    assert.equal(JSON.stringify(r.body).includes(token), false);
  });

  it("pr_view maps the REST answer to gh's --json fields", async () => {
    const r = await rpc(base, "ExecuteTool", { action_id: "gh.pr_view", input: { repo: "acme/deploys", number: 42 } });
    assert.equal(r.body.via, "api");
    assert.deepEqual(JSON.parse(r.body.stdout.text), {
      number: 42,
      title: "Scale checkout",
      state: "OPEN",
      url: "https://github.com/acme/deploys/pull/42",
      isDraft: false,
      headRefName: "wh/scale",
      baseRefName: "main",
    });
  });

  it("an API error is a failed call with GitHub's message", async () => {
    const r = await rpc(base, "ExecuteTool", { action_id: "gh.pr_view", input: { repo: "acme/missing", number: 1 } });
    assert.equal(r.body.status, "failed");
    assert.equal(r.body.stderr.text, "HTTP 404: Not Found");
  });
});

/**
 * The quick start, end to end: the gateway's and projector's entry files as
 * processes in dev auth mode, a token from scripts/mint-token.ts, and the CLI
 * talking to the API. Own stream prefix, schema and data dir.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import { newEvent } from "../../events/index.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  freePort,
  jcs,
  natsEnv,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";

const root = new URL("../../", import.meta.url).pathname;

describe("quick start: gateway (dev issuer) + projector + mint-token + CLI", () => {
  const prefix = uniqueName("cli");
  const schema = uniqueName("cli");
  let dataDir: string;
  let port: number;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];
  let log = "";

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "wh-cli-"));
    port = await freePort();
    env = {
      ...(process.env as Record<string, string>),
      WHEELHOUSE_DATA_DIR: dataDir,
      ...natsEnv(),
      WHEELHOUSE_NATS__PREFIX: prefix,
      WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
      WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema,
      WHEELHOUSE_GATEWAY__PORT: String(port),
      WHEELHOUSE_GATEWAY__AUTH__MODE: "dev",
      WHEELHOUSE_GATEWAY__AUTH__ISSUER: `http://127.0.0.1:${port}/dev-issuer`,
      WHEELHOUSE_LOG__FORMAT: "json",
      WHEELHOUSE_LOG__LEVEL: "warn",
    };
    for (const entry of ["services/gateway/main.ts", "services/projector/main.ts"]) {
      const child = spawn(process.execPath, ["--import", "tsx", entry], {
        cwd: root,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout?.on("data", (d: Buffer) => {
        log += d.toString();
      });
      child.stderr?.on("data", (d: Buffer) => {
        log += d.toString();
      });
      children.push(child);
    }
    await waitFor("gateway ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok, {
      timeoutMs: 30_000,
      intervalMs: 100,
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${log.slice(-3000)}`);
    });
  });

  after(async () => {
    for (const child of children) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    const nc = await connectTestNats();
    await deleteStreams(nc, prefix);
    await nc.close();
    await dropSchemas(schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const mint = async (sub: string, roles: string) =>
    (
      await execa(process.execPath, ["--import", "tsx", "scripts/mint-token.ts", "--sub", sub, "--roles", roles], {
        cwd: root,
        env,
      })
    ).stdout.trim();
  const cli = (token: string, ...args: string[]) =>
    execa(process.execPath, ["--import", "tsx", "services/cli/main.ts", ...args], {
      cwd: root,
      env: { ...env, WHEELHOUSE_URL: `http://127.0.0.1:${port}`, WHEELHOUSE_TOKEN: token },
      reject: false,
    });

  it("serves the dev issuer's JWKS and discovery document", async () => {
    const jwks = (await (await fetch(`http://127.0.0.1:${port}/dev-issuer/.well-known/jwks.json`)).json()) as {
      keys: { kty: string; d?: string }[];
    };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.d, undefined, "the private part must never be served");
    const discovery = (await (
      await fetch(`http://127.0.0.1:${port}/dev-issuer/.well-known/openid-configuration`)
    ).json()) as { issuer: string };
    assert.equal(discovery.issuer, `http://127.0.0.1:${port}/dev-issuer`);
  });

  it("plan, status, approve, execute, audit, explain, audit verify and export through the CLI with minted tokens", async () => {
    const alice = await mint("alice", "operator,approver");
    const bob = await mint("bob", "approver");
    const planned = await cli(
      alice,
      "plan",
      "scale checkout to 6 in staging",
      "--env",
      "staging",
      "--service",
      "checkout",
      "--json",
    );
    assert.equal(planned.exitCode, 0, planned.stderr);
    const planId = (JSON.parse(planned.stdout) as { id: string }).id;
    const status = await cli(alice, "status", planId);
    assert.equal(status.exitCode, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`${planId}\\s+requested`));

    // The planner and policy services are other areas: their events are appended directly.
    const nc = await connectTestNats();
    const store = createEventStore({ nc, prefix });
    const svc = { actor: { kind: "service" as const, id: "policy", roles: [] }, correlation_id: "t" };
    await store.append([
      newEvent(
        "plan.proposed",
        planId,
        { plan_id: planId, revision: 1, summary: "scale", steps: [], planner: { kind: "template" } },
        svc,
      ),
      newEvent(
        "policy.decided",
        planId,
        {
          plan_id: planId,
          revision: 1,
          decision: "require_approval",
          tier: "T2",
          reasons: ["production write"],
          approvers_required: 1,
          constraints: {},
          ttl_seconds: 3600,
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
          policy_revision: "t",
          steps: [],
        },
        svc,
      ),
    ]);
    await nc.close();
    await waitFor(
      "the decision projected",
      async () => /revision 1/.test((await cli(alice, "status", planId)).stdout),
      { timeoutMs: 10_000, intervalMs: 100 },
    );

    // status shows the digest; approve sends the one it read, or refuses one the plan no longer has.
    const digest = planRevisionDigest([]);
    assert.match((await cli(alice, "status", planId)).stdout, new RegExp(`digest ${digest}`));
    const stale = await cli(bob, "approve", planId, "--digest", "0".repeat(64));
    assert.equal(stale.exitCode, 1);
    assert.match(stale.stderr, /409/);
    assert.match(stale.stderr, /is not the digest of plan/);
    const self = await cli(alice, "approve", planId);
    assert.equal(self.exitCode, 1);
    assert.match(self.stderr, /403/);
    assert.match(self.stderr, /fix: ask another approver/);
    const approved = await cli(bob, "approve", planId, "--comment", "lgtm");
    assert.equal(approved.exitCode, 0, approved.stderr);
    assert.match(approved.stdout, new RegExp(`approved plan .* revision 1 digest ${digest}`));

    const audit = await waitFor(
      "audit lines",
      async () => {
        const r = await cli(alice, "audit", "--plan", planId);
        return r.stdout.split("\n").filter(Boolean).length >= 4 ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.match(audit.stdout, /approval\.granted|approval/);

    const executed = await cli(alice, "execute", planId);
    assert.equal(executed.exitCode, 0, executed.stderr);

    // explain: the whole story, from the plan id or the execution id.
    const explained = await waitFor(
      "the execution in the explanation",
      async () => {
        const r = await cli(alice, "explain", planId);
        return /execution .*: requested/.test(r.stdout) ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.equal(explained.exitCode, 0, explained.stderr);
    assert.match(explained.stdout, /intent: "scale checkout to 6 in staging" \(api\) .* by alice/);
    assert.match(explained.stdout, /policy r1: require_approval T2 \(policy t\) production write/);
    assert.match(explained.stdout, /approval r1: granted by bob at .* "lgtm"/);
    assert.match(
      explained.stdout,
      new RegExp(`approval r1: granted by bob at \\S+ via cli for digest ${digest.slice(0, 12)}`),
    );
    assert.match(explained.stdout, new RegExp(`revision 1: scale digest ${digest}`));
    const executionId = /execution (\S+):/.exec(explained.stdout)?.[1] ?? "";
    const byExecution = await cli(alice, "explain", executionId, "--json");
    assert.equal(byExecution.exitCode, 0, byExecution.stderr);
    assert.equal((JSON.parse(byExecution.stdout) as { plan_id: string }).plan_id, planId);
    assert.equal((await cli(alice, "explain", "no-such-change")).exitCode, 1);

    // audit verify: admin only; exit 0 when the chain (and evidence) verify.
    const root = await mint("root", "admin");
    const verified = await waitFor(
      "the trail to verify with no lag",
      async () => {
        const r = await cli(root, "audit", "verify", "--evidence");
        return r.exitCode === 0 && !/behind/.test(r.stdout) ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.match(verified.stdout, /chain ok: \d+ records head #\d+ [0-9a-f]{64}/);
    assert.match(verified.stdout, /evidence ok: 0 blobs/);
    const refused = await cli(alice, "audit", "verify");
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /403/);

    // audit export: NDJSON on stdout whose records re-hash, ending with the chain proof.
    const exported = await cli(alice, "audit", "export");
    assert.equal(exported.exitCode, 0, exported.stderr);
    const lines = exported.stdout
      .split("\n")
      .filter(Boolean)
      .map(
        (l) => JSON.parse(l) as { kind: string; prev_hash: string; hash: string; record: unknown; verified?: boolean },
      );
    const records = lines.filter((l) => l.kind === "audit_record");
    assert.ok(records.length >= 5);
    for (const r of records) {
      assert.equal(createHash("sha256").update(r.prev_hash).update(jcs(r.record)).digest("hex"), r.hash);
    }
    assert.equal(lines[lines.length - 1]?.kind, "chain_proof");
    assert.equal(lines[lines.length - 1]?.verified, true);
    const mine = await cli(alice, "audit", "export", "--plan", planId, "--type", "approval.granted");
    assert.equal(mine.stdout.split("\n").filter((l) => l.includes('"kind":"audit_record"')).length, 1);

    const noToken = await cli("", "status", planId);
    assert.equal(noToken.exitCode, 1);
    assert.match(noToken.stderr, /WHEELHOUSE_TOKEN/);
  });
});

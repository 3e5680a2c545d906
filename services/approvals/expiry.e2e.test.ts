/**
 * Approval timeout, end to end, as a user meets it: the embedded process runs with a policy whose
 * T1 approvals live 6 seconds; alice asks for a change, nobody answers, the durable timer expires
 * the approval (`approval.expired`, once), and then bob's approval and alice's execute are both
 * refused with the reason, through the CLI. Nothing touches the cluster.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import { type EmbeddedSystem, startEmbedded, waitFor } from "../../test/support/index.ts";

const root = join(import.meta.dirname, "..", "..");
const TTL_SECONDS = 6;

describe("approval timeout: pending → expired by the timer → approve and execute refused", () => {
  let system: EmbeddedSystem;
  const dir = mkdtempSync(join(tmpdir(), "wh-expiry-"));

  before(async () => {
    // The policy's own data with short T1 approval windows (policy.data_path replaces the bundle's data).
    const data = JSON.parse(readFileSync(join(root, "policies", "data.json"), "utf8"));
    const config = data.wheelhouse.config;
    config.ttl_seconds.T1 = TTL_SECONDS;
    config.approvals.ttl_seconds.T1 = TTL_SECONDS;
    const dataPath = join(dir, "data.json");
    writeFileSync(dataPath, JSON.stringify(data));
    await execa("bash", ["infra/demo-shop/install.sh"], { cwd: root });
    system = await startEmbedded("expiry", { WHEELHOUSE_POLICY__DATA_PATH: dataPath });
  });

  after(async () => {
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("expires once at the TTL, and then nothing can approve or run the revision", async () => {
    const alice = await system.token("alice", "operator");
    const bob = await system.token("bob", "approver");
    await waitFor(
      "the context service to show checkout in staging",
      async () => {
        const res = await fetch(`${system.url}/v1/context/services/checkout?environment=staging`, {
          headers: { authorization: `Bearer ${alice}` },
        });
        return res.ok;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    const planned = await system.cli(alice, "plan", "scale checkout to 3 in staging");
    assert.equal(planned.exitCode, 0, planned.stderr);
    const planId = /^plan (\S+) requested/.exec(planned.stdout)?.[1];
    assert.ok(planId, planned.stdout);
    const status = async () => (await system.cli(alice, "status", planId)).stdout;
    const pendingAt = Date.now();
    await waitFor("the plan to wait for approval", async () => /pending_approval/.test(await status()), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });

    // Nobody answers: the timer records the expiry (the read model's status follows approval.expired only).
    await waitFor("the approval to expire", async () => /\bexpired\b/.test(await status()), {
      timeoutMs: TTL_SECONDS * 1000 + 30_000,
      intervalMs: 500,
    });
    assert.ok(Date.now() - pendingAt >= (TTL_SECONDS - 1) * 1000, "it must not expire before its TTL");

    const approved = await system.cli(bob, "approve", planId);
    assert.notEqual(approved.exitCode, 0, "an expired approval cannot be granted");
    assert.match(approved.stderr, new RegExp(`409 the approval window for plan ${planId} closed at \\S+`));

    const executed = await system.cli(alice, "execute", planId);
    assert.notEqual(executed.exitCode, 0, "an expired revision cannot run");
    assert.match(executed.stderr, new RegExp(`the approval of plan ${planId} revision 1 expired at \\S+`));
    assert.match(executed.stderr, /fix: request the plan again/);

    // Recorded exactly once, by the timer.
    const res = await fetch(`${system.url}/v1/audit/events?aggregate_id=${planId}&type=approval.expired`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const page = (await res.json()) as { items: { action: string; actor: { id: string } }[] };
    assert.equal(page.items.length, 1, JSON.stringify(page.items));
    assert.equal(page.items[0]?.actor.id, "approval-timer");
  });
});

/**
 * Approval timeout, end to end, as a user meets it: the system (test/support/e2e.ts: the embedded
 * process as a child, configured by a file the test writes) runs with a policy whose T1 approvals
 * live 6 seconds; alice asks for a change, nobody answers, the durable timer expires the approval
 * (`approval.expired`, once), and then bob's approval and alice's execute are refused with the
 * reason and the fix, both through the HTTP API (problem+json) and the CLI. Nothing touches the
 * cluster, and nothing runs: no execution exists for the plan afterwards.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type E2eSystem, type Problem, startE2eSystem } from "../../test/support/e2e.ts";
import { waitFor } from "../../test/support/index.ts";

const TTL_SECONDS = 6;

describe("approval timeout: pending → approval.expired by the timer → approve and execute refused with the reason", () => {
  let system: E2eSystem;

  before(async () => {
    system = await startE2eSystem("expiry", {
      grafana: false,
      prometheus: false,
      policy: (config) => {
        config.ttl_seconds.T1 = TTL_SECONDS;
        config.approvals.ttl_seconds.T1 = TTL_SECONDS;
      },
    });
  });

  after(async () => {
    await system?.stop();
  });

  it("expires once at the TTL, and then nothing can approve or run the revision (HTTP and CLI say why)", async () => {
    const alice = await system.signIn("alice");
    const bob = await system.signIn("bob");
    await waitFor(
      "the context service to show checkout in staging",
      async () => (await system.api(alice, "GET", "/v1/context/services/checkout?environment=staging")).status === 200,
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    const planId = await system.plan(alice, "scale checkout to 3 in staging");
    const pending = await system.waitForPlan(alice, planId, (p) => p.status === "pending_approval");
    assert.equal(pending.tier, "T1");
    assert.equal(pending.policy?.ttl_seconds, TTL_SECONDS, JSON.stringify(pending.policy));
    const expiresAt = pending.policy?.expires_at ?? "";

    // Nobody answers: the timer records the expiry (the read model's status follows approval.expired only).
    const expired = await system.waitForPlan(alice, planId, (p) => p.status === "expired", TTL_SECONDS * 1000 + 30_000);

    // HTTP: what a client of the API gets.
    const approval = await system.api<Problem>(bob, "POST", "/v1/approvals", {
      plan_id: planId,
      revision: expired.revision,
      decision: "grant",
      digest: expired.digest,
    });
    assert.equal(approval.status, 409, approval.text);
    assert.match(approval.body.detail ?? "", new RegExp(`the approval window for plan ${planId} closed at \\S+`));

    const execute = await system.api<Problem>(alice, "POST", `/v1/plans/${planId}:execute`, {
      revision: expired.revision,
    });
    assert.equal(execute.status, 403, execute.text);
    assert.match(execute.body.detail ?? "", new RegExp(`^the approval of plan ${planId} revision 1 expired at \\S+`));
    assert.equal(execute.body.fix, "request the plan again to get a fresh policy decision and approvals");

    // The CLI: the same refusal, as a person at a terminal reads it.
    const approved = await system.cli(bob, "approve", planId);
    assert.notEqual(approved.exitCode, 0, "an expired approval cannot be granted");
    assert.match(approved.stderr, new RegExp(`409 the approval window for plan ${planId} closed at \\S+`));

    const executed = await system.cli(alice, "execute", planId);
    assert.notEqual(executed.exitCode, 0, "an expired revision cannot run");
    assert.match(executed.stderr, new RegExp(`403 the approval of plan ${planId} revision 1 expired at \\S+`));
    assert.match(executed.stderr, /fix: request the plan again/);

    // Recorded exactly once, by the timer; and no execution was started.
    const audit = await system.api<{ items: { actor: { id: string }; occurred_at: string }[] }>(
      alice,
      "GET",
      `/v1/audit/events?aggregate_id=${planId}&type=approval.expired`,
    );
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.body.items.length, 1, audit.text);
    assert.equal(audit.body.items[0]?.actor.id, "approval-timer");
    const expiredAt = Date.parse(audit.body.items[0]?.occurred_at ?? "");
    assert.ok(expiredAt >= Date.parse(expiresAt), `not before its TTL: expired ${expiredAt}, due ${expiresAt}`);
    const executions = await system.api<{ items: unknown[] }>(alice, "GET", `/v1/executions?plan_id=${planId}`);
    assert.equal(executions.status, 200, executions.text);
    assert.deepEqual(executions.body.items, []);
  });
});

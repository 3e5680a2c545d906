/**
 * Approvals through the API over real HTTP, NATS and Postgres: the digest a
 * person approves, quorum from named groups (groups from the token), self-
 * approval, a newer revision after approval, break-glass marked in the audit.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Actor, type ApprovalRequirement, newEvent, type PlanStep } from "../../events/index.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { waitFor } from "../../test/support/index.ts";

const policyActor: Actor = { kind: "service", id: "policy", roles: [] };
const step = (toRevision: number): PlanStep => ({
  step_id: "s1",
  action_id: "kubectl.rollout_undo",
  input: { kind: "deployment", name: "checkout", namespace: "shop", to_revision: toRevision },
  target: { environment: "production", service: "checkout", namespace: "shop" },
  rationale: "undo the bad rollout",
});
const T3: ApprovalRequirement = {
  approvers: 2,
  groups: [
    { group: "sre", count: 1 },
    { group: "security", count: 1 },
  ],
  self_approval: false,
  channels: ["api", "cli", "console", "linear"],
  ttl_seconds: 1800,
  break_glass: { allowed: true, groups: ["break-glass"] },
};

interface Problem {
  status: number;
  field?: string;
  detail: string;
  missing_groups?: unknown;
  current_digest?: string;
}

describe("approvals through the API (real HTTP, NATS, Postgres)", () => {
  let gw: TestGateway;
  let alice: string;
  let sam: string;
  let sid: string;
  let sue: string;
  let gil: string;

  before(async () => {
    gw = await startTestGateway();
    // Roles from the role_map's entries; approver groups are the claim's plain names.
    const person = (sub: string, groups: string[]) => gw.idp.sign({ sub, groups });
    alice = await person("alice", ["wheelhouse-operators", "wheelhouse-approvers", "sre", "security"]);
    sam = await person("sam", ["wheelhouse-approvers", "sre"]);
    sid = await person("sid", ["wheelhouse-approvers", "sre"]);
    sue = await person("sue", ["wheelhouse-approvers", "security"]);
    gil = await person("gil", ["wheelhouse-approvers", "break-glass"]);
  });
  after(() => gw.stop());

  const call = (method: string, path: string, token: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  async function accepted(res: Response) {
    assert.equal(res.status, 202, await res.clone().text());
  }

  async function problem(res: Response, status: number, field?: string): Promise<Problem> {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${await res.clone().text()}`);
    const body = (await res.json()) as Problem;
    if (field !== undefined) assert.equal(body.field, field, JSON.stringify(body));
    return body;
  }

  /** A T3 plan requested by alice, revision `revision` proposed and decided; returns its digest. */
  async function proposeT3(planId: string, revision: number): Promise<string> {
    const steps = [step(revision)];
    const digest = planRevisionDigest(steps);
    const meta = { actor: policyActor, correlation_id: planId };
    await gw.store.append([
      newEvent(
        "plan.proposed",
        planId,
        { plan_id: planId, revision, summary: "undo checkout", steps, planner: { kind: "template" }, digest },
        meta,
      ),
      newEvent(
        "policy.decided",
        planId,
        {
          plan_id: planId,
          revision,
          decision: "require_approval",
          tier: "T3",
          reasons: ["production kubectl.rollout_undo: T3"],
          approvers_required: 2,
          constraints: {},
          ttl_seconds: 3600,
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
          policy_revision: "test",
          steps: [],
          approval: T3,
        },
        meta,
      ),
    ]);
    return digest;
  }

  async function newPlan(): Promise<string> {
    const res = await call("POST", "/v1/plans", alice, { intent: "undo the checkout rollout in production" });
    await accepted(res);
    return ((await res.json()) as { id: string }).id;
  }

  const approve = (token: string, planId: string, digest: string, extra: Record<string, unknown> = {}, revision = 1) =>
    call("POST", "/v1/approvals", token, {
      plan_id: planId,
      revision,
      digest,
      decision: "grant",
      channel: "cli",
      ...extra,
    });

  it("a T3 plan needs one approver from sre and one from security; GET shows the digest each answered for", async () => {
    const planId = await newPlan();
    const digest = await proposeT3(planId, 1);
    await accepted(await approve(sam, planId, digest));
    await accepted(await approve(sid, planId, digest));
    const short = await problem(await call("POST", `/v1/plans/${planId}:execute`, alice, { revision: 1 }), 403);
    assert.deepEqual(short.missing_groups, [{ group: "security", count: 1 }]);
    await accepted(await approve(sue, planId, digest));
    const plan = await waitFor("the approved plan", async () => {
      const body = (await (await call("GET", `/v1/plans/${planId}`, alice)).json()) as {
        status: string;
        digest: string;
        approvals: { approvers: { approver: string; via: string; digest: string }[] }[];
      };
      return body.status === "approved" ? body : undefined;
    });
    assert.equal(plan.digest, digest);
    assert.deepEqual(
      // Without an approval.requested each API answer is its own approval row; the plan counts them together.
      plan.approvals
        .flatMap((a) => a.approvers.map((x) => [x.approver, x.via, x.digest]))
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        ["sam", "cli", digest],
        ["sid", "cli", digest],
        ["sue", "cli", digest],
      ],
    );
    await accepted(await call("POST", `/v1/plans/${planId}:execute`, alice, { revision: 1, digest }));
  });

  it("the requester cannot approve their own plan, whatever their groups or channel", async () => {
    const planId = await newPlan();
    const digest = await proposeT3(planId, 1);
    const before = await gw.eventCount();
    for (const channel of ["api", "cli", "console"]) {
      const refused = await problem(await approve(alice, planId, digest, { channel }), 403, "plan_id");
      assert.match(refused.detail, /alice requested plan .* and may not approve it/);
    }
    assert.equal(await gw.eventCount(), before);
  });

  it("approvals for an older digest: a new revision proposed after them cannot execute, and old digests are refused", async () => {
    const planId = await newPlan();
    const first = await proposeT3(planId, 1);
    await accepted(await approve(sam, planId, first));
    await accepted(await approve(sue, planId, first));
    const second = await proposeT3(planId, 2);
    assert.notEqual(second, first);
    await problem(await call("POST", `/v1/plans/${planId}:execute`, alice, { revision: 2 }), 403, "revision");
    await problem(await call("POST", `/v1/plans/${planId}:execute`, alice, { revision: 1 }), 409, "revision");
    const stale = await problem(await approve(sam, planId, first, {}, 2), 409, "digest");
    assert.equal(stale.current_digest, second);
    await problem(
      await call("POST", `/v1/plans/${planId}:execute`, alice, { revision: 2, digest: first }),
      409,
      "digest",
    );
  });

  it("break-glass: alone with a reason it meets the quorum and is marked in the audit; without one it is refused", async () => {
    const planId = await newPlan();
    const digest = await proposeT3(planId, 1);
    await problem(await approve(gil, planId, digest, { break_glass: true }), 400, "reason");
    await problem(await approve(sam, planId, digest, { break_glass: true, reason: "down" }), 403, "break_glass");
    await accepted(await approve(gil, planId, digest, { break_glass: true, reason: "checkout is down; paged sre" }));
    await accepted(await call("POST", `/v1/plans/${planId}:execute`, alice, { revision: 1, digest }));
    const story = await waitFor("the explanation with the grant", async () => {
      const body = (await (await call("GET", `/v1/plans/${planId}/explain`, alice)).json()) as {
        approvals: { status: string; approver: string; channel: string; digest: string; break_glass: boolean }[];
      };
      return body.approvals?.some((a) => a.status === "granted") ? body : undefined;
    });
    const grant = story.approvals.find((a) => a.status === "granted");
    assert.deepEqual(
      { approver: grant?.approver, channel: grant?.channel, digest: grant?.digest, break_glass: grant?.break_glass },
      { approver: "gil", channel: "cli", digest, break_glass: true },
    );
    const recorded = (await gw.store.readAggregate("plan", planId)).find((e) => e.type === "approval.granted");
    assert.equal(recorded?.type === "approval.granted" && recorded.payload.break_glass, true);
    assert.equal(recorded?.type === "approval.granted" && recorded.payload.reason, "checkout is down; paged sre");
    assert.deepEqual(recorded?.actor.groups, ["break-glass", "wheelhouse-approvers"]);
  });
});

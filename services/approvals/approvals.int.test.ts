/**
 * The approvals service against real NATS and the local Linear (the real @linear/sdk talking to
 * the fixture's GraphQL server): the issue a plan needing approval gets, once across restarts and
 * redeliveries; answers given in Linear, by webhook and by polling; refusals told in a comment;
 * the outcome written back.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { type Actor, type AnyRecordedEvent, newEvent } from "../../events/index.ts";
import { decide, envelopeDrafts, planDecider } from "../../lib/domain/index.ts";
import { handleCommand } from "../../lib/eventstore/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { type LinearFixture, startLinearFixture } from "../../test/fixtures/linear/server.ts";
import { DEFAULT_TRANSITIONS, linearSettingsFor, recordPlanNeedingApproval } from "../../test/support/approvals.ts";
import { createTestEventStore, type TestEventStore, waitFor } from "../../test/support/index.ts";
import { issueIdFor } from "./issue.ts";
import { createLinearApprovals } from "./linear.ts";
import { type ApprovalsService, createApprovalsService } from "./service.ts";

const carol: Actor = { kind: "user", id: "carol", roles: ["operator", "approver"] };
const logger = createLogger({ service: "approvals-test", level: "silent", format: "json" });

describe("approvals service with Linear", () => {
  let linear: LinearFixture;
  let t: TestEventStore;
  let services: ApprovalsService[] = [];

  const service = () => {
    const s = createApprovalsService({
      store: t.store,
      logger,
      linear: createLinearApprovals(linearSettingsFor(linear), logger),
      identities: {
        "Alice@acme.example": { id: "alice", roles: ["approver"] },
        "carol@acme.example": { id: "carol", roles: ["operator", "approver"] },
        "bob@acme.example": { id: "bob", roles: ["viewer"] },
      },
      rules: DEFAULT_TRANSITIONS,
      planUrl: "http://wheelhouse.test/v1/plans/{plan_id}",
    });
    services.push(s);
    return s;
  };
  const planEvents = (planId: string) => t.store.readAggregate("plan", planId);
  const decided = async (planId: string) =>
    (await planEvents(planId)).find((e) => e.type === "policy.decided") as AnyRecordedEvent;

  before(async () => {
    linear = await startLinearFixture();
    t = await createTestEventStore("appr");
  });
  beforeEach(() => {
    services = [];
  });
  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await t.teardown();
    await linear.close();
  });

  it("opens one issue per revision, with the digest and link, across a redelivery and a restart", async () => {
    const plan = await recordPlanNeedingApproval(t.store, { requester: carol });
    const first = service();
    assert.equal(await first.handle(await decided(plan.planId)), "opened");
    const created = linear.calls("issueCreate");
    const mine = created.filter((c) => (c.variables.input as { id: string }).id === issueIdFor(t.prefix, plan));
    assert.equal(mine.length, 1);
    const input = mine[0]?.variables.input as { title: string; description: string; labelIds: string[] };
    assert.match(input.title, /^Approve: scale checkout to 6 in staging \(T2/);
    assert.ok(input.description.includes(plan.digest), "the body shows the digest");
    assert.ok(input.description.includes(`http://wheelhouse.test/v1/plans/${plan.planId}`));
    assert.ok(input.description.includes("kubectl.scale"), "the body lists the typed steps");
    assert.deepEqual(
      input.labelIds.map((id) => linear.workspace.label(id)?.name),
      ["approval:pending"],
    );
    const requested = (await planEvents(plan.planId)).find((e) => e.type === "approval.requested");
    assert.equal(requested?.type, "approval.requested");
    if (requested?.type !== "approval.requested") return;
    assert.equal(requested.payload.links.linear_issue_id, issueIdFor(t.prefix, plan));
    assert.match(requested.payload.links.linear ?? "", /^https:\/\/linear\.app\/acme\/issue\/OPS-\d+/);

    // The same event again (a redelivery), then a new process: no second issue, no second request.
    assert.equal(await first.handle(await decided(plan.planId)), "already_open");
    await first.stop();
    assert.equal(await service().handle(await decided(plan.planId)), "already_open");
    assert.equal(linear.calls("issueCreate").length, created.length);
    assert.equal((await planEvents(plan.planId)).filter((e) => e.type === "approval.requested").length, 1);
    // Every operation the service sent (the SDK's and its own issueCreate selection) ran against Linear's schema.
    assert.deepEqual(
      linear.operations().flatMap((o) => o.errors),
      [],
    );
  });

  it("takes an issue an earlier attempt opened before it could record the request", async () => {
    const plan = await recordPlanNeedingApproval(t.store, { requester: carol });
    const issueId = issueIdFor(t.prefix, plan);
    // A crash between the issue and approval.requested: the issue exists, the plan does not name it.
    await createLinearApprovals(linearSettingsFor(linear), logger).openIssue({
      id: issueId,
      title: "half-done",
      description: "",
    });
    const issues = linear.workspace.issues.size;
    assert.equal(await service().handle(await decided(plan.planId)), "opened");
    assert.equal(linear.workspace.issues.size, issues, "no second issue");
    assert.match(linear.workspace.issues.get(issueId)?.title ?? "", /^Approve:/);
  });

  it("records a grant made in Linear once, as the mapped identity on channel linear, and writes the outcome back", async () => {
    const plan = await recordPlanNeedingApproval(t.store, { requester: carol });
    const s = service();
    await s.handle(await decided(plan.planId));
    const issueId = issueIdFor(t.prefix, plan);
    const webhook = linear.moveIssue(issueId, { by: "alice@acme.example", toState: "Approved" });
    const handoff = { delivery: "d-1", webhook };
    assert.equal((await s.answerWebhook(handoff)).outcome, "recorded");
    assert.equal((await s.answerWebhook({ ...handoff, delivery: "d-2" })).outcome, "duplicate");
    const granted = (await planEvents(plan.planId)).filter((e) => e.type === "approval.granted");
    assert.equal(granted.length, 1);
    const g = granted[0];
    if (g?.type !== "approval.granted") return;
    assert.deepEqual(
      { approver: g.payload.approver, channel: g.payload.channel, digest: g.payload.digest, actor: g.actor.id },
      { approver: "alice", channel: "linear", digest: plan.digest, actor: "alice" },
    );
    await s.handle(g);
    const issue = linear.workspace.issues.get(issueId);
    assert.deepEqual(
      issue?.labelIds.map((id) => linear.workspace.label(id)?.name),
      ["approval:granted"],
    );
    assert.ok(
      linear.workspace.comments.some(
        (c) => c.issueId === issueId && c.body.startsWith("✅ Granted by **alice** via linear"),
      ),
    );
    // A redelivered event writes no second comment.
    const comments = linear.workspace.comments.length;
    await s.handle(g);
    assert.equal(linear.workspace.comments.length, comments);
  });

  it("refuses unmapped people, viewers and the requester, tells them why, and records nothing", async () => {
    const plan = await recordPlanNeedingApproval(t.store, { requester: carol });
    const s = service();
    await s.handle(await decided(plan.planId));
    const issueId = issueIdFor(t.prefix, plan);
    const before = (await planEvents(plan.planId)).length;
    for (const [by, change, why] of [
      ["mallory@acme.example", { addLabel: "approve" }, /mallory@acme\.example is not mapped to a Wheelhouse approver/],
      ["bob@acme.example", { toState: "Approved" }, /may not approve plans/],
    ] as const) {
      const out = await s.answerWebhook({ delivery: by, webhook: linear.moveIssue(issueId, { by, ...change }) });
      assert.equal(out.outcome, "refused");
      assert.ok(
        linear.workspace.comments.some((c) => c.issueId === issueId && why.test(c.body)),
        `a comment says ${why}`,
      );
    }
    linear.workspace.users.push({
      id: "00000000-0000-4000-8000-0000000ca401",
      name: "Carol",
      email: "carol@acme.example",
    });
    linear.moveIssue(issueId, { by: "carol@acme.example", toState: "Todo" });
    const own = await s.answerWebhook({
      delivery: "carol",
      webhook: linear.moveIssue(issueId, { by: "carol@acme.example", toState: "Approved" }),
    });
    assert.equal(own.outcome, "refused");
    assert.match(own.detail, /requested plan .* and may not approve it/);
    assert.equal((await planEvents(plan.planId)).length, before, "nothing appended");
  });

  it("writes back an expiry, and an execution's progress, as labels and comments", async () => {
    const s = service();
    // Decided long enough ago that its one-second window has closed.
    const old = await recordPlanNeedingApproval(t.store, {
      requester: carol,
      ttlSeconds: 1,
      now: new Date(Date.now() - 5000),
    });
    await s.handle(await decided(old.planId));
    const { events } = await handleCommand(t.store, planDecider, old.planId, (state) =>
      envelopeDrafts(
        decide({ type: "ExpireApproval", planId: old.planId, revision: 1, actor: carol, now: new Date() }, state),
        old.planId,
        { actor: { kind: "system", id: "approval-timer", roles: [] }, correlation_id: "expiry" },
      ),
    );
    const expired = (await planEvents(old.planId)).find((e) => e.type === "approval.expired");
    assert.ok(expired && events.length === 1);
    await s.handle(expired);
    const oldIssue = issueIdFor(t.prefix, old);
    assert.deepEqual(
      linear.workspace.issues.get(oldIssue)?.labelIds.map((id) => linear.workspace.label(id)?.name),
      ["approval:expired"],
    );
    assert.ok(
      linear.workspace.comments.some(
        (c) => c.issueId === oldIssue && c.body.startsWith("⌛ The approval window closed"),
      ),
    );

    const plan = await recordPlanNeedingApproval(t.store, { requester: carol });
    await s.handle(await decided(plan.planId));
    const issueId = issueIdFor(t.prefix, plan);
    await s.answerWebhook({
      delivery: "e",
      webhook: linear.moveIssue(issueId, { by: "alice@acme.example", toState: "Approved" }),
    });
    const executionId = `${plan.planId}-r1`;
    const meta = { actor: carol, correlation_id: "run" };
    await t.store.append(
      [
        newEvent(
          "execution.requested",
          executionId,
          { execution_id: executionId, plan_id: plan.planId, revision: 1 },
          meta,
        ),
      ],
      { expectedVersion: "none" },
    );
    await t.store.append([
      newEvent(
        "execution.started",
        executionId,
        { execution_id: executionId, plan_id: plan.planId, workflow_id: executionId },
        meta,
      ),
    ]);
    await t.store.append([
      newEvent("execution.succeeded", executionId, { execution_id: executionId, plan_id: plan.planId }, meta),
    ]);
    for (const e of await t.store.readAggregate("execution", executionId)) await s.handle(e);
    const comments = linear.workspace.comments.filter((c) => c.issueId === issueId).map((c) => c.body);
    assert.ok(comments.includes(`▶ Execution \`${executionId}\`: executing.`), comments.join("\n"));
    assert.ok(comments.includes(`▶ Execution \`${executionId}\`: succeeded.`));
  });

  it("finds by polling an answer no webhook brought, and ignores issues that are not Wheelhouse's", async () => {
    const plan = await recordPlanNeedingApproval(t.store, { requester: carol });
    const s = service();
    await s.handle(await decided(plan.planId));
    const issueId = issueIdFor(t.prefix, plan);
    linear.moveIssue(issueId, { by: "alice@acme.example", toState: "Rejected" });
    await s.poll();
    const denied = await waitFor("the denial", async () =>
      (await planEvents(plan.planId)).find((e) => e.type === "approval.denied"),
    );
    assert.equal(denied.type === "approval.denied" && denied.payload.channel, "linear");

    const stranger = linear.workspace.createIssue({
      teamId: linear.workspace.team.id,
      title: "not ours",
      description: `wheelhouse plan \`${plan.planId}\` revision 1 digest \`${plan.digest}\``,
    });
    const out = await s.answerWebhook({
      delivery: "x",
      webhook: linear.moveIssue(stranger.id, { by: "alice@acme.example", toState: "Approved" }),
    });
    assert.equal(out.outcome, "ignored");
  });
});

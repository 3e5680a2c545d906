/**
 * The same approval everywhere, over the real wire: the gateway (real NATS, Postgres, projector,
 * an OIDC issuer), the approvals service against the local Linear (the real @linear/sdk), ChatOps
 * on Bolt's HTTP receiver with the real WebClient against the local Slack, Slack's requests signed
 * as Slack signs them and Linear's webhooks as Linear signs them. What the fixtures received is
 * checked, and so are the plan's events, its read model and its explanation.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Actor, AnyRecordedEvent } from "../../events/index.ts";
import { createDelegationMinter, withDelegation } from "../../lib/auth/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { type LinearFixture, startLinearFixture } from "../../test/fixtures/linear/server.ts";
import { buttonClick, slashCommand } from "../../test/fixtures/slack/requests.ts";
import { type SlackFixture, startSlackFixture } from "../../test/fixtures/slack/server.ts";
import { DEFAULT_TRANSITIONS, linearSettingsFor, recordPlanNeedingApproval } from "../../test/support/approvals.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { waitFor } from "../../test/support/index.ts";
import { issueIdFor } from "../approvals/issue.ts";
import { createLinearApprovals } from "../approvals/linear.ts";
import { type ApprovalsService, createApprovalsService } from "../approvals/service.ts";
import { createGatewayClient } from "./gateway-client.ts";
import { type ChatOpsService, createChatOpsService } from "./service.ts";

const SLACK_SECRET = "slack-signing-secret-for-tests-0123";
const LINEAR_SECRET = "linear-webhook-secret-for-tests-4567";
const CHANNEL = "C0APPROVALS";
const logger = createLogger({ service: "chatops-test", level: "silent", format: "json" });
const carol: Actor = { kind: "user", id: "carol", roles: ["operator", "approver"] };
const identities = {
  "alice@acme.example": { id: "alice", roles: ["approver" as const] },
  "bob@acme.example": { id: "bob", roles: ["approver" as const] },
  "carol@acme.example": { id: "carol", roles: ["operator" as const, "approver" as const] },
};

describe("approvals in Slack, Linear and the API", () => {
  let gw: TestGateway;
  let linear: LinearFixture;
  let slack: SlackFixture;
  let approvals: ApprovalsService;
  let chatops: ChatOpsService;
  let slackUrl: string;
  const keys = generateKeyPairSync("ed25519");

  const startChatOps = async (durable: string) => {
    const service = createChatOpsService({
      store: gw.store,
      nc: gw.nc,
      logger,
      botToken: slack.botToken,
      signingSecret: SLACK_SECRET,
      slackApiUrl: slack.apiUrl,
      channel: CHANNEL,
      identities,
      gateway: createGatewayClient({
        baseUrl: gw.url,
        minter: createDelegationMinter({
          service: "chatops",
          channel: "slack",
          audience: "wheelhouse",
          signingKey: keys.privateKey,
        }),
      }),
      planUrl: `${"http://wheelhouse.test"}/v1/plans/{plan_id}`,
      host: "127.0.0.1",
      port: 0,
      durable,
    });
    return { service, url: await service.start() };
  };

  before(async () => {
    linear = await startLinearFixture();
    linear.workspace.users.push({
      id: "00000000-0000-4000-8000-0000000ca401",
      name: "Carol",
      email: "carol@acme.example",
    });
    slack = await startSlackFixture();
    gw = await startTestGateway({
      webhookSecrets: { linearSecret: LINEAR_SECRET },
      authenticator: (base) =>
        withDelegation(base, {
          service: "chatops",
          channel: "slack",
          audience: "wheelhouse",
          verifyKey: keys.publicKey,
          maxRoles: ["viewer", "operator", "approver"],
        }),
    });
    approvals = createApprovalsService({
      store: gw.store,
      logger,
      linear: createLinearApprovals(linearSettingsFor(linear), logger),
      identities,
      rules: DEFAULT_TRANSITIONS,
      planUrl: "http://wheelhouse.test/v1/plans/{plan_id}",
    });
    await approvals.start({ nc: gw.nc });
    ({ service: chatops, url: slackUrl } = await startChatOps("chatops"));
  });
  after(async () => {
    await chatops?.stop();
    await approvals?.stop();
    await gw?.stop();
    await slack?.close();
    await linear?.close();
  });

  const planEvents = (planId: string) => gw.store.readAggregate("plan", planId);
  const postSlack = (request: { body: string; headers: Record<string, string> }) =>
    fetch(slackUrl, { method: "POST", headers: request.headers, body: request.body });
  const postLinear = (request: { body: string; headers: Record<string, string> }) =>
    fetch(`${gw.url}/v1/webhooks/linear`, { method: "POST", headers: request.headers, body: request.body });
  const messageOf = (planId: string) =>
    waitFor(`the Slack message of ${planId}`, () =>
      slack.messages.find((m) => m.threadTs === null && JSON.stringify(m.blocks).includes(planId.slice(0, 8))),
    );
  const buttonValue = (blocks: unknown[]) => {
    const actions = blocks.find((b) => (b as { type: string }).type === "actions") as { elements: { value: string }[] };
    return actions.elements[0]?.value ?? "";
  };
  const bySlackEmail = (email: string) => slack.userByEmail(email);

  /** A plan requested by carol that needs one approver; its issue and message are open. */
  async function pendingPlan(options: Parameters<typeof recordPlanNeedingApproval>[1] = { requester: carol }) {
    const plan = await recordPlanNeedingApproval(gw.store, options);
    const issueId = issueIdFor(gw.prefix, plan);
    await waitFor("the Linear issue", () => linear.workspace.issues.get(issueId));
    const message = await messageOf(plan.planId);
    await waitFor("approval.requested", async () =>
      (await planEvents(plan.planId)).some((e) => e.type === "approval.requested"),
    );
    return { ...plan, issueId, message };
  }

  it("opens a Linear issue and posts one Slack message with buttons bound to the digest", async () => {
    const plan = await pendingPlan();
    const create = linear.calls("issueCreate").find((c) => (c.variables.input as { id: string }).id === plan.issueId);
    assert.ok(create, "issueCreate received");
    assert.ok((create.variables.input as { description: string }).description.includes(plan.digest));
    const posted = slack
      .calls("chat.postMessage")
      .filter((c) => JSON.stringify(c.blocks ?? "").includes(plan.planId.slice(0, 8)));
    assert.equal(posted.length, 1);
    assert.equal(posted[0]?.channel, CHANNEL);
    assert.deepEqual(JSON.parse(buttonValue(plan.message.blocks)), { p: plan.planId, r: 1, d: plan.digest });
    // The Linear link reaches the message once approval.requested records it.
    await waitFor("the Linear link in the message", () =>
      JSON.stringify(plan.message.blocks).includes(linear.workspace.issues.get(plan.issueId)?.identifier ?? "?"),
    );
  });

  it("an approval in Slack is the API's, Linear's and the audit's: labelled granted, message updated, plan approved, explain names slack", async () => {
    const plan = await pendingPlan();
    const started = Date.now();
    const response = await postSlack(
      buttonClick(slack, SLACK_SECRET, {
        user: bySlackEmail("bob@acme.example"),
        channel: CHANNEL,
        messageTs: plan.message.ts,
        actionId: "approve",
        value: buttonValue(plan.message.blocks),
      }),
    );
    assert.equal(response.status, 200);
    assert.ok(Date.now() - started < 3000, "acknowledged within Slack's 3 s");
    const granted = await waitFor("approval.granted", async () =>
      (await planEvents(plan.planId)).find((e) => e.type === "approval.granted"),
    );
    assert.equal(granted.type === "approval.granted" && granted.payload.channel, "slack");
    assert.equal(granted.actor.id, "bob");
    await waitFor("the issue labelled approval:granted", () =>
      linear.workspace.issues
        .get(plan.issueId)
        ?.labelIds.map((id) => linear.workspace.label(id)?.name)
        .includes("approval:granted"),
    );
    assert.ok(
      linear.workspace.comments.some((c) => c.issueId === plan.issueId && c.body.includes("**bob** via slack")),
    );
    await waitFor("the message updated in place", () =>
      plan.message.updates.some((u) => JSON.stringify(u.blocks).includes("Approved* by bob (slack)")),
    );
    assert.ok(!JSON.stringify(plan.message.blocks).includes('"actions"'), "no buttons once approved");
    const token = await gw.token("viewer-vic", ["viewer"]);
    const view = await waitFor("the plan approved", async () => {
      const r = await fetch(`${gw.url}/v1/plans/${plan.planId}`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await r.json()) as { status: string };
      return body.status === "approved" ? body : null;
    });
    assert.equal(view.status, "approved");
    const explain = (await (
      await fetch(`${gw.url}/v1/plans/${plan.planId}/explain`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { approvals: { status: string; approver: string | null; channel: string | null }[] };
    assert.ok(explain.approvals.some((a) => a.status === "granted" && a.approver === "bob" && a.channel === "slack"));
    assert.ok(slack.calls("response").some((r) => String(r.text).includes("approval of plan")));
  });

  it("a denial in Linear updates the Slack message", async () => {
    const plan = await pendingPlan();
    const webhook = linear.moveIssue(plan.issueId, { by: "alice@acme.example", toState: "Rejected" });
    const response = await postLinear(linear.webhookFor(webhook, LINEAR_SECRET));
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { outcome: string }).outcome, "recorded");
    await waitFor("the message shows the denial", () =>
      plan.message.updates.some((u) => JSON.stringify(u.blocks).includes("Denied* by alice (linear)")),
    );
    await waitFor("the thread says so", () =>
      slack.messages.some((m) => m.threadTs === plan.message.ts && m.text.includes("Denied by *alice* via linear")),
    );
  });

  it("refuses self-approval in every channel and records nothing", async () => {
    const plan = await pendingPlan();
    const before = (await planEvents(plan.planId)).length;
    const api = await fetch(`${gw.url}/v1/approvals`, {
      method: "POST",
      headers: { authorization: `Bearer ${await gw.token("carol", ["approver"])}`, "content-type": "application/json" },
      body: JSON.stringify({ plan_id: plan.planId, revision: 1, digest: plan.digest, decision: "grant" }),
    });
    assert.equal(api.status, 403);
    const responses = slack.calls("response").length;
    const click = await postSlack(
      buttonClick(slack, SLACK_SECRET, {
        user: bySlackEmail("carol@acme.example"),
        channel: CHANNEL,
        messageTs: plan.message.ts,
        actionId: "approve",
        value: buttonValue(plan.message.blocks),
      }),
    );
    assert.equal(click.status, 200);
    await waitFor("Slack tells carol", () =>
      slack
        .calls("response")
        .slice(responses)
        .some((r) => /requested plan .* and may not approve it/.test(String(r.text))),
    );
    const linearAnswer = await postLinear(
      linear.webhookFor(
        linear.moveIssue(plan.issueId, { by: "carol@acme.example", toState: "Approved" }),
        LINEAR_SECRET,
      ),
    );
    assert.equal(((await linearAnswer.json()) as { outcome: string }).outcome, "refused");
    assert.ok(linear.workspace.comments.some((c) => c.issueId === plan.issueId && /may not approve it/.test(c.body)));
    assert.equal((await planEvents(plan.planId)).length, before);
  });

  it("refuses forged, stale and replayed Slack and Linear requests with 401 and appends nothing", async () => {
    const plan = await pendingPlan();
    const alice = bySlackEmail("alice@acme.example");
    const click = (secret: string, timestampSec?: number) =>
      buttonClick(slack, secret, {
        user: alice,
        channel: CHANNEL,
        messageTs: plan.message.ts,
        actionId: "approve",
        value: buttonValue(plan.message.blocks),
        ...(timestampSec === undefined ? {} : { timestampSec }),
      });
    const count = await gw.eventCount();
    assert.equal((await postSlack(click("not-the-secret"))).status, 401, "forged");
    assert.equal((await postSlack(click(SLACK_SECRET, Math.floor(Date.now() / 1000) - 600))).status, 401, "stale");
    assert.equal(
      (await postSlack(click(SLACK_SECRET, Math.floor(Date.now() / 1000) + 600))).status,
      401,
      "from the future",
    );
    const tampered = click(SLACK_SECRET);
    assert.equal((await postSlack({ ...tampered, body: tampered.body.replace("alice", "bobby") })).status, 401);
    const webhook = linear.moveIssue(plan.issueId, { by: "alice@acme.example", toState: "Approved" });
    assert.equal((await postLinear(linear.webhookFor(webhook, "not-the-secret"))).status, 401, "forged");
    assert.equal(
      (await postLinear(linear.webhookFor(webhook, LINEAR_SECRET, { timestamp: Date.now() - 120_000 }))).status,
      401,
      "stale",
    );
    const { "linear-signature": _, ...unsigned } = linear.webhookFor(webhook, LINEAR_SECRET).headers;
    assert.equal((await postLinear({ body: JSON.stringify(webhook), headers: unsigned })).status, 401, "unsigned");
    assert.equal(await gw.eventCount(), count, "nothing appended");

    // A request taken once is refused when it comes again.
    const signed = click(SLACK_SECRET);
    assert.equal((await postSlack(signed)).status, 200);
    const granted = await waitFor("alice's approval", async () =>
      (await planEvents(plan.planId)).find((e) => e.type === "approval.granted"),
    );
    assert.equal((granted as AnyRecordedEvent).actor.id, "alice");
    const afterFirst = await gw.eventCount();
    assert.equal((await postSlack(signed)).status, 401, "Slack replay");
    const other = await pendingPlan();
    const delivery = linear.webhookFor(
      linear.moveIssue(other.issueId, { by: "alice@acme.example", toState: "Approved" }),
      LINEAR_SECRET,
    );
    assert.equal((await postLinear(delivery)).status, 200);
    const afterLinear = await gw.eventCount();
    assert.equal((await postLinear(delivery)).status, 401, "Linear replay");
    assert.ok(afterLinear > afterFirst);
    assert.equal(await gw.eventCount(), afterLinear, "the replays appended nothing");
  });

  it("runs /assistant for mapped people only, through the API as them", async () => {
    const command = (email: string, text: string) =>
      slashCommand(slack, SLACK_SECRET, { user: bySlackEmail(email), text, channel: CHANNEL });
    const responses = slack.calls("response").length;
    assert.equal((await postSlack(command("carol@acme.example", "plan scale cart to 3 in staging"))).status, 200);
    const answer = await waitFor("the plan's id", () =>
      slack
        .calls("response")
        .slice(responses)
        .map((r) => /Plan `([^`]+)` requested/.exec(String(r.text))?.[1])
        .find(Boolean),
    );
    const requested = (await planEvents(answer))[0];
    assert.equal(requested?.type, "plan.requested");
    assert.equal(requested?.actor.id, "carol");
    assert.equal(requested?.type === "plan.requested" && requested.payload.source, "slack");
    await postSlack(command("carol@acme.example", `status ${answer}`));
    await waitFor("the status answer", () =>
      slack.calls("response").some((r) => String(r.text).includes(`*Plan ${answer}*`)),
    );
    await postSlack(command("mallory@acme.example", `status ${answer}`));
    await waitFor("mallory refused", () =>
      slack.calls("response").some((r) => String(r.text).includes("mallory@acme.example is not mapped")),
    );
    const audit = await pendingPlan();
    await postSlack(command("bob@acme.example", `approve ${audit.planId}`));
    await waitFor("bob's approval", async () =>
      (await planEvents(audit.planId)).find((e) => e.type === "approval.granted"),
    );
    await postSlack(command("bob@acme.example", `audit ${audit.planId}`));
    await waitFor("the audit names the channel", () =>
      slack.calls("response").some((r) => /granted by bob via slack/.test(String(r.text))),
    );
  });

  it("keeps a tier policy keeps out of chat out of chat: no buttons, and /assistant approve refused", async () => {
    const plan = await pendingPlan({ requester: carol, tier: "T3", channels: ["api", "cli", "console", "linear"] });
    const blocks = JSON.stringify(plan.message.blocks);
    assert.ok(!blocks.includes('"actions"'), "no buttons");
    assert.ok(blocks.includes("not from chat"));
    const before = (await planEvents(plan.planId)).length;
    await postSlack(
      slashCommand(slack, SLACK_SECRET, {
        user: bySlackEmail("bob@acme.example"),
        text: `approve ${plan.planId}`,
        channel: CHANNEL,
      }),
    );
    await waitFor("bob is told", () =>
      slack.calls("response").some((r) => String(r.text).includes("cannot be approved from slack")),
    );
    assert.equal((await planEvents(plan.planId)).length, before);
  });

  it("after a restart, posts no second message and opens no second issue", async () => {
    const plan = await pendingPlan();
    const messages = slack.messages.filter((m) => m.threadTs === null).length;
    const issues = linear.workspace.issues.size;
    await chatops.stop();
    // A new consumer reads every event again from the stream's start.
    ({ service: chatops, url: slackUrl } = await startChatOps("chatops-after-restart"));
    const decided = (await planEvents(plan.planId)).find((e) => e.type === "policy.decided") as AnyRecordedEvent;
    assert.equal(await approvals.handle(decided), "already_open");
    const jsm = await jetstreamManager(gw.nc);
    await waitFor("the new consumer read every event", async () => {
      const info = await jsm.consumers.info(gw.store.streams.events, "chatops-after-restart");
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq > 0;
    });
    assert.equal(slack.messages.filter((m) => m.threadTs === null).length, messages);
    assert.equal(linear.workspace.issues.size, issues);
  });
});

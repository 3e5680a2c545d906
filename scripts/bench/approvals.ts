/**
 * Approvals benchmark: `policy.decided` → Linear issue created and Slack message posted.
 *
 * The approvals service and ChatOps run in this process on real NATS (a prefix of their own),
 * against the local Linear and Slack fixture servers (in a process of their own,
 * `support/approvals-fixtures.ts`, as the real ones are elsewhere) with the real @linear/sdk and
 * Bolt's WebClient. A burst of plans needing approval (default 100) is decided at once: each plan's
 * `policy.decided` is appended, and the time until its issue exists in Linear and its message in
 * Slack is measured (the fixtures stamp the moment the request reaches them). The raw baseline,
 * measured in the same run, is the same calls made directly with the SDK and the WebClient in one
 * burst (no events, no reads, no request recorded). Goal: p99 under 500 ms.
 *
 *   npm run bench -- approvals [plans]
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LinearClient } from "@linear/sdk";
import { webApi } from "@slack/bolt";
import { createDelegationMinter } from "../../lib/auth/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { generateCapabilityKeys } from "../../lib/tools/index.ts";
import { issueIdFor } from "../../services/approvals/issue.ts";
import { createLinearApprovals, linearId } from "../../services/approvals/linear.ts";
import { createApprovalsService } from "../../services/approvals/service.ts";
import { createGatewayClient } from "../../services/chatops/gateway-client.ts";
import { createChatOpsService } from "../../services/chatops/service.ts";
import { linearSettingsFor, recordPlanNeedingApproval } from "../../test/support/approvals.ts";
import { connectTestNats, deleteStreams, waitFor } from "../../test/support/index.ts";

const burst = Number(process.argv[2] ?? 100);
const CHANNEL = "C0APPROVALS";
const requester = { kind: "user" as const, id: "carol", roles: ["operator" as const] };

const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const fmt = (xs: readonly number[]) =>
  `p50 ${pct(xs, 50).toFixed(1)} ms  p99 ${pct(xs, 99).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms`;

const monotonicMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;

interface Ready {
  readonly type: "ready";
  readonly linear: { readonly graphqlUrl: string; readonly apiKey: string };
  readonly slack: { readonly apiUrl: string; readonly botToken: string };
}
interface Report {
  readonly type: "report";
  readonly issues: [string, number][];
  readonly messages: [string, number][];
}

/** The fixtures' process: started, asked for what reached them, closed. */
async function startFixtures() {
  const child = fork(fileURLToPath(new URL("./support/approvals-fixtures.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = <T>(type: string) =>
    new Promise<T>((resolve) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        child.off("message", onMessage);
        resolve(m as T);
      };
      child.on("message", onMessage);
    });
  const ready = await next<Ready>("ready");
  return {
    ...ready,
    async report() {
      const answer = next<Report>("report");
      child.send({ type: "report" });
      const { issues, messages } = await answer;
      return { issues: new Map(issues), messages };
    },
    close: () => {
      child.send({ type: "close" });
    },
  };
}

const logger = createLogger({ service: "bench-approvals", level: "warn", format: "json" });
const nc = await connectTestNats();
const prefix = `bench_appr_${Date.now().toString(36)}`;
const store = createEventStore({ nc, prefix });
await store.provision();
const fixtures = await startFixtures();
const { linear, slack } = fixtures;
const linearClient = createLinearApprovals(linearSettingsFor(linear), logger);
const approvals = createApprovalsService({
  store,
  logger,
  linear: linearClient,
  identities: {},
  rules: { grant: { states: ["Approved"], labels: [] }, deny: { states: ["Rejected"], labels: [] } },
  planUrl: "http://127.0.0.1:8320/v1/plans/{plan_id}",
});
const chatops = createChatOpsService({
  store,
  nc,
  logger,
  botToken: slack.botToken,
  signingSecret: "bench-signing-secret",
  slackApiUrl: slack.apiUrl,
  channel: CHANNEL,
  identities: {},
  gateway: createGatewayClient({
    baseUrl: "http://127.0.0.1:9",
    minter: createDelegationMinter({
      service: "chatops",
      channel: "slack",
      audience: "wheelhouse",
      signingKey: generateCapabilityKeys().signingKey,
    }),
  }),
  planUrl: "http://127.0.0.1:8320/v1/plans/{plan_id}",
  host: "127.0.0.1",
  port: 0,
});

try {
  await approvals.start({ nc });
  await chatops.start();
  await linearClient.setup();

  // Warm-up: one plan through both paths (connections, schema, JIT).
  const warm = await recordPlanNeedingApproval(store, { requester });
  await waitFor(
    "the warm-up issue and message",
    async () => {
      const r = await fixtures.report();
      return r.issues.has(issueIdFor(prefix, warm)) && r.messages.length > 0;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );

  const plans = await Promise.all(
    Array.from({ length: burst }, () => recordPlanNeedingApproval(store, { requester, withoutDecision: true })),
  );
  const decidedAt = new Map<string, number>();
  const appendMs: number[] = [];
  await Promise.all(
    plans.map(async (plan) => {
      const t0 = monotonicMs();
      decidedAt.set(plan.planId, t0);
      await store.append([plan.decision]);
      appendMs.push(monotonicMs() - t0);
    }),
  );
  let stamps: Awaited<ReturnType<typeof fixtures.report>> = { issues: new Map(), messages: [] };
  const messageOf = (planId: string) => stamps.messages.find(([blocks]) => blocks.includes(planId.slice(0, 8)))?.[1];
  await waitFor(
    `${burst} issues and messages`,
    async () => {
      stamps = await fixtures.report();
      return plans.every((p) => stamps.issues.has(issueIdFor(prefix, p)) && messageOf(p.planId) !== undefined);
    },
    { timeoutMs: 120_000, intervalMs: 50 },
  );
  const issueMs = plans.map((p) => (stamps.issues.get(issueIdFor(prefix, p)) ?? 0) - (decidedAt.get(p.planId) ?? 0));
  const messageMs = plans.map((p) => (messageOf(p.planId) ?? 0) - (decidedAt.get(p.planId) ?? 0));
  const bothMs = plans.map((_, i) => Math.max(issueMs[i] ?? 0, messageMs[i] ?? 0));

  // Raw baseline: the same calls, made directly, in one burst.
  const sdk = new LinearClient({ apiKey: linear.apiKey, apiUrl: linear.graphqlUrl });
  const team = (await sdk.teams({ filter: { key: { eq: "OPS" } } })).nodes[0]?.id ?? "";
  const pending =
    (await sdk.issueLabels({ filter: { name: { eq: linearSettingsFor(linear).labels.pending } } })).nodes[0]?.id ?? "";
  const web = new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl });
  const rawMs = await Promise.all(
    plans.map(async (p) => {
      const t0 = performance.now();
      await Promise.all([
        sdk.createIssue({
          id: linearId(`raw:${p.planId}`),
          teamId: team,
          title: "raw",
          description: "raw",
          labelIds: [pending],
        }),
        web.chat.postMessage({
          channel: CHANNEL,
          text: "raw",
          blocks: [{ type: "section", text: { type: "mrkdwn", text: "raw" } }],
        }),
      ]);
      return performance.now() - t0;
    }),
  );

  console.log(`approvals, ${burst} plans needing approval decided in one burst (local Linear and Slack):`);
  console.log(`  policy.decided → Linear issue created:   ${fmt(issueMs)}`);
  console.log(`  policy.decided → Slack message posted:   ${fmt(messageMs)}`);
  console.log(`  policy.decided → both:                   ${fmt(bothMs)}`);
  console.log(`  of which the burst's own appends of policy.decided:  ${fmt(appendMs)}`);
  console.log(`  raw baseline (issueCreate + postMessage, same burst, no events): ${fmt(rawMs)}`);
  console.log(
    `  ratio p99 both / raw: ${(pct(bothMs, 99) / pct(rawMs, 99)).toFixed(2)}×   goal: p99 < 500 ms → ${pct(bothMs, 99) < 500 ? "met" : "NOT met"}`,
  );
} finally {
  await chatops.stop();
  await approvals.stop();
  await deleteStreams(nc, prefix);
  await nc.close();
  fixtures.close();
}

/**
 * The approvals benchmark's Linear and Slack, in a process of their own (started with `fork` by
 * `scripts/bench/approvals.ts`), as the real services are elsewhere: what the benchmark measures is
 * the approvals service and ChatOps, not the fixtures sharing their event loop. Each issue created
 * and each top-level message posted is stamped with the monotonic clock (`process.hrtime`, the same
 * in every process of the machine) when its request reaches the fixture.
 *
 * Messages to the parent: `{ type: "ready", linear: { graphqlUrl, apiKey }, slack: { apiUrl, botToken } }`;
 * then `{ type: "report" }` → `{ type: "report", issues: [id, ms][], messages: [blocks json, ms][] }`;
 * `{ type: "close" }` closes the servers and exits.
 */
import { startLinearFixture } from "../../../test/fixtures/linear/server.ts";
import { startSlackFixture } from "../../../test/fixtures/slack/server.ts";

const monotonicMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;
const linear = await startLinearFixture();
const slack = await startSlackFixture();
const issues: [string, number][] = [];
const messages: [string, number][] = [];

const createIssue = linear.workspace.createIssue.bind(linear.workspace);
linear.workspace.createIssue = (input) => {
  const issue = createIssue(input);
  issues.push([issue.id, monotonicMs()]);
  return issue;
};
const push = slack.messages.push.bind(slack.messages);
slack.messages.push = (...added) => {
  for (const m of added) if (m.threadTs === null) messages.push([JSON.stringify(m.blocks), monotonicMs()]);
  return push(...added);
};

process.on("message", (message: { type: string }) => {
  if (message.type === "report") process.send?.({ type: "report", issues, messages });
  if (message.type === "close") {
    void Promise.all([linear.close(), slack.close()]).then(() => process.exit(0));
  }
});
process.send?.({
  type: "ready",
  linear: { graphqlUrl: linear.graphqlUrl, apiKey: linear.apiKey },
  slack: { apiUrl: slack.apiUrl, botToken: slack.botToken },
});

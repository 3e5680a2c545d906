/**
 * The integration activities against fixtures speaking each provider's wire format (Grafana,
 * PagerDuty Events v2, Linear through @linear/sdk, GitHub REST over bare repositories pushed to with
 * git), with a real event store: what each fixture received (method, path, credentials, body), the
 * `execution.notified` recorded, and the retried attempt, including one that made its call but died
 * before recording it, making nothing twice.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import type { AnyEvent } from "../../../../events/index.ts";
import { planRevisionDigest } from "../../../../lib/domain/index.ts";
import type { EventStore } from "../../../../lib/eventstore/index.ts";
import {
  createGithubPulls,
  createGrafanaAnnotations,
  createLinearIssues,
  createPagerDutyEvents,
  type IntegrationClients,
} from "../../../../lib/integrations/index.ts";
import { createLogger } from "../../../../lib/log/index.ts";
import { type GithubFixture, startGithubFixture } from "../../../../test/fixtures/github/server.ts";
import { type GrafanaFixture, startGrafanaFixture } from "../../../../test/fixtures/grafana/server.ts";
import { type LinearFixture, startLinearFixture } from "../../../../test/fixtures/linear/server.ts";
import { type PagerDutyFixture, startPagerDutyFixture } from "../../../../test/fixtures/pagerduty/server.ts";
import { createTestEventStore, type TestEventStore } from "../../../../test/support/index.ts";
import { approvalEvent, BOB, seededPlan } from "../../../../test/support/orchestrator.ts";
import { createIntegrationActivities, INTEGRATION_REJECTED } from "./index.ts";

const logger = createLogger({ service: "integrations-test", level: "warn", format: "json" });
const grafanaToken = "glsa_integrationTest_5f0c2d9e";
const none: IntegrationClients = { grafana: null, pagerduty: null, linear: null, github: null };

let events: TestEventStore;
before(async () => {
  events = await createTestEventStore("integrations");
});
after(() => events.teardown());

/**
 * The store, except that its next `failures` appends (of `type` only, when given) throw: an attempt
 * that dies before recording.
 */
function failingAppends(store: EventStore, failures: number, type?: string): EventStore {
  let left = failures;
  return {
    ...store,
    append: (batch: readonly AnyEvent[], opts) => {
      if (left > 0 && (type === undefined || batch.some((e) => e.type === type))) {
        left -= 1;
        return Promise.reject(new Error("NATS went away before the append"));
      }
      return store.append(batch, opts);
    },
  };
}

function meta() {
  const execution_id = randomUUID();
  return { execution_id, plan_id: randomUUID(), correlation_id: randomUUID(), causation_id: randomUUID() };
}

async function notices(executionId: string) {
  const all = await events.store.readAggregate("execution", executionId);
  return all.filter((e) => e.type === "execution.notified");
}

describe("integrations that are not configured", () => {
  it("answer null fields and record nothing", async () => {
    const activities = createIntegrationActivities({ store: events.store, logger, clients: none });
    const m = meta();
    assert.deepEqual(await activities.CreateGrafanaAnnotationActivity({ ...m, phase: "start", text: "t", tags: [] }), {
      annotation_id: null,
    });
    assert.deepEqual(await activities.CreatePagerDutyIncidentActivity({ ...m, summary: "s", severity: "critical" }), {
      dedup_key: null,
    });
    assert.deepEqual(await activities.CreateLinearIssueActivity({ ...m, title: "t", description: "d" }), {
      issue_id: null,
      url: null,
    });
    assert.deepEqual(
      await activities.CreateGitPullRequestActivity({
        ...m,
        revision: 1,
        step_id: "s1",
        repo: "acme/deploys",
        base: "main",
        branch: "wh/x",
        title: "t",
        body: "b",
        files: [{ path: "a", content: "b" }],
      }),
      { url: null, number: null },
    );
    assert.deepEqual(await notices(m.execution_id), []);
  });
});

describe("CreateGrafanaAnnotationActivity", () => {
  let grafana: GrafanaFixture;
  before(async () => {
    grafana = await startGrafanaFixture(grafanaToken);
  });
  after(() => grafana.close());

  const clients = (): IntegrationClients => ({
    ...none,
    grafana: createGrafanaAnnotations({ url: grafana.url, token: grafanaToken }),
  });

  it("annotates the start, and the end as a region from the start, each recorded once", async () => {
    let now = Date.parse("2026-11-26T10:00:00.000Z");
    const activities = createIntegrationActivities({
      store: events.store,
      logger,
      clients: clients(),
      now: () => new Date(now),
    });
    const m = meta();
    const start = await activities.CreateGrafanaAnnotationActivity({
      ...m,
      phase: "start",
      text: "Deploying checkout 1.4.2",
      tags: ["deploy", "checkout"],
    });
    assert.equal(typeof start.annotation_id, "number");
    const post = grafana.annotationPosts().at(-1);
    assert.equal(post?.method, "POST");
    assert.equal(post?.pathname, "/api/annotations");
    assert.equal(post?.headers.authorization, `Bearer ${grafanaToken}`);
    assert.equal(post?.headers["content-type"], "application/json");
    assert.deepEqual(post?.json, {
      time: now,
      tags: ["deploy", "checkout", "wheelhouse", `execution:${m.execution_id}`, "phase:start"],
      text: "Deploying checkout 1.4.2",
    });

    now += 90_000;
    const end = await activities.CreateGrafanaAnnotationActivity({
      ...m,
      phase: "end",
      text: "checkout 1.4.2 verified",
      tags: ["deploy", "checkout"],
    });
    const region = grafana.annotations.find((a) => a.id === end.annotation_id);
    const started = (await notices(m.execution_id)).find((e) => e.payload.phase === "start");
    assert.equal(
      region?.time,
      Date.parse(started?.occurred_at ?? ""),
      "the region starts where the start was recorded",
    );
    assert.equal(region?.timeEnd, now);

    const recorded = await notices(m.execution_id);
    assert.deepEqual(
      recorded.map((e) => [e.payload.channel, e.payload.phase, e.payload.ref]),
      [
        ["grafana", "start", String(start.annotation_id)],
        ["grafana", "end", String(end.annotation_id)],
      ],
    );
    assert.deepEqual(recorded[0]?.correlation_id, m.correlation_id);
    assert.deepEqual(recorded[0]?.causation_id, m.causation_id);
  });

  it("a retried attempt reuses the recorded annotation: no second POST", async () => {
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    const m = meta();
    const input = { ...m, phase: "start" as const, text: "Scaling cart", tags: ["scale"] };
    const first = await activities.CreateGrafanaAnnotationActivity(input);
    const posts = grafana.annotationPosts().length;
    const again = await activities.CreateGrafanaAnnotationActivity(input);
    assert.deepEqual(again, first);
    assert.equal(grafana.annotationPosts().length, posts, "no second POST");
    assert.equal((await notices(m.execution_id)).length, 1);
  });

  it("an attempt that annotated but died before recording is found by its tags, not annotated again", async () => {
    const m = meta();
    const input = { ...m, phase: "start" as const, text: "Rotating the db secret", tags: [] };
    const dying = createIntegrationActivities({
      store: failingAppends(events.store, 1),
      logger,
      clients: clients(),
    });
    await assert.rejects(dying.CreateGrafanaAnnotationActivity(input), /NATS went away/);
    const posts = grafana.annotationPosts().length;
    const retried = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    const result = await retried.CreateGrafanaAnnotationActivity(input);
    assert.equal(grafana.annotationPosts().length, posts, "no second POST");
    const mine = grafana.annotations.filter((a) => a.tags.includes(`execution:${m.execution_id}`));
    assert.deepEqual(
      mine.map((a) => a.id),
      [result.annotation_id],
    );
    assert.equal((await notices(m.execution_id)).length, 1);
  });

  it("a token Grafana refuses is a non-retryable IntegrationRejected naming the connector", async () => {
    const activities = createIntegrationActivities({
      store: events.store,
      logger,
      clients: { ...none, grafana: createGrafanaAnnotations({ url: grafana.url, token: "glsa_wrong_token" }) },
    });
    const m = meta();
    await assert.rejects(
      activities.CreateGrafanaAnnotationActivity({ ...m, phase: "start", text: "t", tags: [] }),
      (error: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(error.type, INTEGRATION_REJECTED);
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /Grafana GET \/api\/annotations answered 401/);
        assert.ok(!error.message.includes("glsa_wrong_token"), "the token is not in the message");
        return true;
      },
    );
    assert.deepEqual(await notices(m.execution_id), []);
  });
});

describe("CreatePagerDutyIncidentActivity", () => {
  let pd: PagerDutyFixture;
  before(async () => {
    pd = await startPagerDutyFixture();
  });
  after(() => pd.close());

  const clients = (routingKey = pd.routingKey): IntegrationClients => ({
    ...none,
    pagerduty: createPagerDutyEvents({ apiBase: pd.apiBase, routingKey }),
  });

  it("triggers an incident under the execution's dedup key and records it", async () => {
    const activities = createIntegrationActivities({
      store: events.store,
      logger,
      clients: clients(),
      planUrl: (id) => `http://127.0.0.1:8320/v1/plans/${id}`,
    });
    const m = meta();
    const result = await activities.CreatePagerDutyIncidentActivity({
      ...m,
      summary: "Rollback of checkout failed: helm rollback exited 1",
      severity: "critical",
    });
    assert.deepEqual(result, { dedup_key: `wheelhouse/${m.execution_id}` });
    const sent = pd.enqueued().at(-1);
    assert.equal(sent?.method, "POST");
    assert.equal(sent?.pathname, "/v2/enqueue");
    assert.equal(sent?.headers.authorization, undefined, "the routing key in the body is the credential");
    assert.deepEqual(sent?.json, {
      routing_key: pd.routingKey,
      event_action: "trigger",
      dedup_key: `wheelhouse/${m.execution_id}`,
      client: "Wheelhouse",
      links: [{ href: `http://127.0.0.1:8320/v1/plans/${m.plan_id}`, text: "The plan in Wheelhouse" }],
      payload: {
        summary: "Rollback of checkout failed: helm rollback exited 1",
        source: "wheelhouse",
        severity: "critical",
        custom_details: { execution_id: m.execution_id, plan_id: m.plan_id, correlation_id: m.correlation_id },
      },
    });
    const recorded = await notices(m.execution_id);
    assert.deepEqual(
      recorded.map((e) => [e.payload.channel, e.payload.phase, e.payload.ref]),
      [["pagerduty", "incident", `wheelhouse/${m.execution_id}`]],
    );
  });

  it("a retried attempt sends nothing once recorded, and one that died before recording keeps one alert", async () => {
    const m = meta();
    const input = { ...m, summary: "Verification of cart stayed inconclusive", severity: "warning" as const };
    const dying = createIntegrationActivities({
      store: failingAppends(events.store, 1),
      logger,
      clients: clients(),
    });
    await assert.rejects(dying.CreatePagerDutyIncidentActivity(input), /NATS went away/);
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    const retried = await activities.CreatePagerDutyIncidentActivity(input);
    const sent = pd.enqueued().length;
    const third = await activities.CreatePagerDutyIncidentActivity(input);
    assert.deepEqual(third, retried);
    assert.equal(pd.enqueued().length, sent, "nothing sent once recorded");
    const alerts = [...pd.alerts.values()].filter((a) => a.dedup_key === `wheelhouse/${m.execution_id}`);
    assert.equal(alerts.length, 1, "one alert");
    assert.equal(alerts[0]?.triggers, 2, "the resent trigger folded into it");
    assert.equal((await notices(m.execution_id)).length, 1);
  });

  it("PagerDuty's 429 is retryable; its 400 is a non-retryable rejection with PagerDuty's errors", async () => {
    const m = meta();
    pd.throttleNext(1);
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    await assert.rejects(
      activities.CreatePagerDutyIncidentActivity({ ...m, summary: "s", severity: "error" }),
      (error: Error & { code?: string }) => error.code === "rate_limited",
    );
    const wrongKey = createIntegrationActivities({ store: events.store, logger, clients: clients("0".repeat(32)) });
    await assert.rejects(
      wrongKey.CreatePagerDutyIncidentActivity({ ...m, summary: "s", severity: "error" }),
      (error: Error & { type?: string; nonRetryable?: boolean }) =>
        error.type === INTEGRATION_REJECTED &&
        error.nonRetryable === true &&
        /answered 400: Event object is invalid: Invalid routing key/.test(error.message) &&
        !error.message.includes("0".repeat(32)),
    );
    assert.deepEqual(await notices(m.execution_id), []);
  });
});

describe("CreateLinearIssueActivity", () => {
  let linear: LinearFixture;
  before(async () => {
    linear = await startLinearFixture();
  });
  after(() => linear.close());

  const clients = (): IntegrationClients => ({
    ...none,
    linear: createLinearIssues({ apiUrl: linear.graphqlUrl, apiKey: linear.apiKey, teamKey: "OPS" }),
  });

  it("opens the follow-up issue through @linear/sdk under an id derived from the execution", async () => {
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    const m = meta();
    const result = await activities.CreateLinearIssueActivity({
      ...m,
      title: "Follow up: checkout error rate after 1.4.2",
      description: "The remediation rolled checkout back to 1.4.1.",
    });
    const issue = result.issue_id ? linear.workspace.issues.get(result.issue_id) : undefined;
    assert.equal(issue?.title, "Follow up: checkout error rate after 1.4.2");
    assert.equal(issue?.description, "The remediation rolled checkout back to 1.4.1.");
    assert.match(result.url ?? "", new RegExp(`^https://linear\\.app/acme/issue/${issue?.identifier}/`));
    const create = linear.calls("issueCreate").at(-1);
    assert.deepEqual(create?.variables.input, {
      id: result.issue_id,
      teamId: linear.workspace.team.id,
      title: "Follow up: checkout error rate after 1.4.2",
      description: "The remediation rolled checkout back to 1.4.1.",
    });
    const request = linear.requests.find((r) => JSON.stringify(r.json).includes("issueCreate"));
    assert.equal(request?.method, "POST");
    assert.equal(request?.pathname, "/graphql");
    assert.equal(request?.headers.authorization, linear.apiKey);
    const recorded = await notices(m.execution_id);
    assert.deepEqual(
      recorded.map((e) => [e.payload.channel, e.payload.phase, e.payload.ref, e.payload.url]),
      [["linear", "follow_up", result.issue_id, result.url]],
    );
  });

  it("a retried attempt opens no second issue, whether or not the first one recorded it", async () => {
    const m = meta();
    const input = { ...m, title: "Follow up: cart latency", description: "Scaled cart to 6." };
    const dying = createIntegrationActivities({
      store: failingAppends(events.store, 1),
      logger,
      clients: clients(),
    });
    await assert.rejects(dying.CreateLinearIssueActivity(input), /NATS went away/);
    const issues = linear.workspace.issues.size;
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    const retried = await activities.CreateLinearIssueActivity(input);
    assert.equal(linear.workspace.issues.size, issues, "no second issue");
    const creates = linear.calls("issueCreate").length;
    assert.deepEqual(await activities.CreateLinearIssueActivity(input), retried);
    assert.equal(linear.calls("issueCreate").length, creates, "nothing asked of Linear once recorded");
    assert.equal((await notices(m.execution_id)).length, 1);
  });
});

describe("CreateGitPullRequestActivity", () => {
  let root: string;
  let github: GithubFixture;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "wh-pr-"));
    github = await startGithubFixture({ root });
    await github.createRepository("acme/deploys", { "apps/checkout/values.yaml": "replicas: 2\n" });
  });
  after(async () => {
    await github.close();
    await rm(root, { recursive: true, force: true });
  });

  const clients = (token = github.token): IntegrationClients => ({
    ...none,
    github: {
      pulls: createGithubPulls({ apiBase: github.apiBase, token }),
      cloneUrl: (repo) => `${github.gitBase}/${repo}.git`,
      token,
      author: { name: "Wheelhouse", email: "wheelhouse@example.test" },
    },
  });
  const stepInput = (branch: string, files = [{ path: "apps/checkout/values.yaml", content: "replicas: 4\n" }]) => ({
    repo: "acme/deploys",
    base: "main",
    branch,
    title: "Scale checkout to 4 replicas",
    body: "Proposed by Wheelhouse.",
    files,
  });
  /**
   * The activity's input for step s1 of a new approved plan whose step is this pull request (the
   * activity authorises it as that step's write), with the plan's events appended.
   */
  const input = async (branch: string, files?: { path: string; content: string }[]) => {
    const step = {
      step_id: "s1",
      action_id: "git.pull_request",
      input: stepInput(branch, files),
      target: { environment: "staging", service: "checkout" },
      rationale: "propose the change for review",
    };
    const plan = seededPlan({ steps: [step] });
    await events.store.append(plan.events);
    return { ...meta(), plan_id: plan.planId, revision: 1, step_id: "s1", ...stepInput(branch, files) };
  };
  const show = async (ref: string, path: string) =>
    String((await execa("git", ["--git-dir", join(root, "acme/deploys.git"), "show", `${ref}:${path}`])).stdout);

  it("pushes a branch with the files committed, then opens the pull request over REST", async () => {
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    const m = await input("wheelhouse/scale-checkout");
    const result = await activities.CreateGitPullRequestActivity(m);
    assert.deepEqual(result, { url: "https://github.com/acme/deploys/pull/1", number: 1 });
    assert.equal(await show("refs/heads/wheelhouse/scale-checkout", "apps/checkout/values.yaml"), "replicas: 4");
    const log = await execa("git", [
      "--git-dir",
      join(root, "acme/deploys.git"),
      "log",
      "-1",
      "--format=%an <%ae>%n%s",
      "refs/heads/wheelhouse/scale-checkout",
    ]);
    assert.equal(String(log.stdout), "Wheelhouse <wheelhouse@example.test>\nScale checkout to 4 replicas");

    const [lookup, create] = github.requests.slice(-2);
    assert.equal(lookup?.method, "GET");
    assert.equal(lookup?.pathname, "/repos/acme/deploys/pulls");
    assert.equal(lookup?.query.get("head"), "acme:wheelhouse/scale-checkout");
    assert.equal(create?.method, "POST");
    assert.equal(create?.pathname, "/repos/acme/deploys/pulls");
    assert.equal(create?.headers.authorization, `Bearer ${github.token}`);
    assert.equal(create?.headers.accept, "application/vnd.github+json");
    assert.equal(create?.headers["x-github-api-version"], "2022-11-28");
    assert.deepEqual(create?.json, {
      title: "Scale checkout to 4 replicas",
      head: "wheelhouse/scale-checkout",
      base: "main",
      body: `Proposed by Wheelhouse.\n\n<!-- wheelhouse execution=${m.execution_id} step=s1 -->`,
    });
    const recorded = await notices(m.execution_id);
    assert.deepEqual(
      recorded.map((e) => [e.payload.channel, e.payload.phase, e.payload.ref]),
      [["github", "s1", result.url]],
    );
    const authorised = (await events.store.readAggregate("plan", m.plan_id)).filter(
      (e) => e.type === "plan.write_authorized",
    );
    assert.deepEqual(
      authorised.map((e) => [e.payload.execution_id, e.payload.step_id, e.payload.action_id]),
      [[m.execution_id, "s1", "git.pull_request"]],
      "authorised as the plan's write before the push",
    );
  });

  it("refuses, pushing nothing, a pull request its plan does not name or whose approval was withdrawn", async () => {
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    const branchExists = async (branch: string) =>
      (
        await execa("git", ["--git-dir", join(root, "acme/deploys.git"), "rev-parse", "--verify", "--quiet", branch], {
          reject: false,
        })
      ).exitCode === 0;

    const other = await input("wheelhouse/not-planned");
    await assert.rejects(
      activities.CreateGitPullRequestActivity({
        ...other,
        files: [{ path: "apps/checkout/values.yaml", content: "x" }],
      }),
      (error: Error & { type?: string }) =>
        error.type === "ToolCallRefused" && /is not step s1's step call/.test(error.message),
    );
    assert.equal(await branchExists("refs/heads/wheelhouse/not-planned"), false);

    const withdrawn = await input("wheelhouse/withdrawn");
    const [proposed] = (await events.store.readAggregate("plan", withdrawn.plan_id)).filter(
      (e) => e.type === "plan.proposed",
    );
    assert.ok(proposed?.type === "plan.proposed");
    await events.store.append([
      approvalEvent("approval.denied", withdrawn.plan_id, BOB, planRevisionDigest(proposed.payload.steps)),
    ]);
    await assert.rejects(
      activities.CreateGitPullRequestActivity(withdrawn),
      (error: Error & { type?: string }) => error.type === "ApprovalRefused",
    );
    assert.equal(await branchExists("refs/heads/wheelhouse/withdrawn"), false);
    assert.equal(github.pullCreations().filter((r) => /withdrawn|not-planned/.test(JSON.stringify(r.json))).length, 0);
  });

  it("a retried attempt after the pull request was opened but not recorded finds it by its head branch", async () => {
    const m = await input("wheelhouse/retry");
    const dying = createIntegrationActivities({
      store: failingAppends(events.store, 1, "execution.notified"),
      logger,
      clients: clients(),
    });
    await assert.rejects(dying.CreateGitPullRequestActivity(m), /NATS went away/);
    const posts = github.pullCreations().length;
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    const retried = await activities.CreateGitPullRequestActivity(m);
    assert.equal(github.pullCreations().length, posts, "no second POST");
    assert.equal(github.pulls.get("acme/deploys")?.filter((p) => p.head.ref === "wheelhouse/retry").length, 1);
    const requests = github.requests.length;
    assert.deepEqual(await activities.CreateGitPullRequestActivity(m), retried);
    assert.equal(github.requests.length, requests, "nothing asked of GitHub once recorded");
    assert.equal((await notices(m.execution_id)).length, 1);
  });

  it("a retried attempt after the push but before the pull request takes the pushed branch as it is", async () => {
    const m = await input("wheelhouse/pushed");
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    // The first attempt pushed, then GitHub was down: a retryable failure, nothing recorded.
    github.failNextCreation();
    await assert.rejects(
      activities.CreateGitPullRequestActivity(m),
      (error: Error & { code?: string }) => error.code === "unavailable" && /answered 502/.test(error.message),
    );
    assert.equal(await show("refs/heads/wheelhouse/pushed", "apps/checkout/values.yaml"), "replicas: 4");
    assert.deepEqual(await notices(m.execution_id), []);
    const result = await activities.CreateGitPullRequestActivity(m);
    assert.equal(typeof result.number, "number");
    const commits = await execa("git", [
      "--git-dir",
      join(root, "acme/deploys.git"),
      "rev-list",
      "--count",
      "main..refs/heads/wheelhouse/pushed",
    ]);
    assert.equal(String(commits.stdout), "1", "the branch holds the one commit, not a second");
  });

  it("a token GitHub refuses is a non-retryable IntegrationRejected", async () => {
    const refused = createIntegrationActivities({ store: events.store, logger, clients: clients("ghp_rotated") });
    await assert.rejects(
      refused.CreateGitPullRequestActivity(await input("wheelhouse/refused")),
      (error: Error & { type?: string }) =>
        error.type === INTEGRATION_REJECTED &&
        /answered 401: Bad credentials/.test(error.message) &&
        !error.message.includes("ghp_rotated"),
    );
  });

  it("refuses a branch whose pull request another execution opened, naming the fix", async () => {
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    await activities.CreateGitPullRequestActivity(await input("wheelhouse/shared"));
    const posts = github.pullCreations().length;
    await assert.rejects(
      activities.CreateGitPullRequestActivity(await input("wheelhouse/shared")),
      (error: Error & { type?: string; details?: { fix: string }[] }) => {
        assert.equal(error.type, INTEGRATION_REJECTED);
        assert.match(error.message, /already has pull request #\d+, not opened by this step/);
        assert.match(error.details?.[0]?.fix ?? "", /name a branch no other pull request uses/);
        return true;
      },
    );
    assert.equal(github.pullCreations().length, posts);
  });

  it("refuses a branch someone pushed with other content, pushing nothing over it", async () => {
    const gitDir = join(root, "acme/deploys.git");
    const main = String((await execa("git", ["--git-dir", gitDir, "rev-parse", "main"])).stdout).trim();
    await execa("git", ["--git-dir", gitDir, "update-ref", "refs/heads/someone/else", main]);
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    await assert.rejects(
      activities.CreateGitPullRequestActivity(await input("someone/else")),
      (error: Error & { type?: string }) =>
        error.type === INTEGRATION_REJECTED && /"someone\/else" already exists with other content/.test(error.message),
    );
    const after = String((await execa("git", ["--git-dir", gitDir, "rev-parse", "refs/heads/someone/else"])).stdout);
    assert.equal(after.trim(), main, "the branch is left as it was");
  });

  it("refuses a file path outside the repository before running git", async () => {
    const activities = createIntegrationActivities({ store: events.store, logger, clients: clients() });
    await assert.rejects(
      activities.CreateGitPullRequestActivity(await input("wheelhouse/escape", [{ path: "../outside", content: "x" }])),
      (error: Error & { type?: string }) =>
        error.type === INTEGRATION_REJECTED && /not a plain relative path/.test(error.message),
    );
  });
});

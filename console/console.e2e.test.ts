/**
 * The operator's console in real Chromium (Debian's `chromium`, driven by playwright-core) against
 * the embedded process (every service, the gateway serving `console/dist` under its CSP, the
 * development OIDC issuer, whose access tokens live 20 s here): alice signs in and requests three
 * changes and watches them become pending (live), and cannot approve them (the button says why);
 * bob approves them; alice executes the third (a Helm rollback) at once, filters the list by
 * requester (served by the API), her session outlives its first token without signing in again
 * (the console refreshes it, the WebSocket carries on); she executes the first change and watches
 * the live tool output to "succeeded" and "verified" with its measurements charted against the
 * threshold; the second (pods that can never be scheduled: its verification keeps failing) she
 * cancels with a reason, and the page shows the cancellation requested; the third has meanwhile
 * paused (its error ratio in Prometheus stays inconclusive: the release serves no traffic), and she
 * gives its verdict with the Pass button (an empty reason is refused in the page, a refusal of the
 * API shows its detail and fix and keeps her reason), and it succeeds; carol (admin) has the audit
 * chain verified. Every screen passes an axe-core scan with no serious or critical violation, and no
 * page breaks the CSP.
 * `UPDATE_SCREENSHOTS=1` writes the screenshots to docs/console/ (else to a temporary folder).
 *
 * Isolation: test/support's embedded process (its own NATS prefix, schema, task queue, buckets,
 * data directory, ports), its own browser profile, and a namespace of its own labelled as staging
 * with the Deployments the changes scale and the Helm release the third rolls back (the real kubectl
 * and helm act on the local cluster); all removed afterwards.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { PROMETHEUS_URL } from "../test/support/e2e.ts";
import {
  createTestDeployment,
  createTestNamespace,
  deploymentManifest,
  type EmbeddedSystem,
  kubectl,
  kubeGet,
  startEmbedded,
  type TestNamespace,
  testCluster,
  uniqueKubeName,
  waitFor,
} from "../test/support/index.ts";

const root = join(import.meta.dirname, "..");
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The development issuer's access token lifetime here: short, so that the test outlives several. */
const TOKEN_TTL_SECONDS = 20;
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** The newest modification time under `dir` (files only). */
function newest(dir: string): number {
  let latest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    latest = Math.max(latest, stat.isDirectory() ? newest(path) : stat.mtimeMs);
  }
  return latest;
}

/** Builds the console when `console/dist` is missing or older than its sources (setup builds it too). */
async function ensureConsoleBuilt(): Promise<void> {
  const built = join(root, "console", "dist", "index.html");
  const sources = Math.max(newest(join(root, "console", "src")), statSync(join(root, "console", "index.html")).mtimeMs);
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  await execa("npm", ["run", "-s", "build:console"], {
    cwd: root,
    env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` },
  });
}

interface Deployment {
  readonly spec: { readonly replicas: number };
}

/**
 * A Helm release of one ConfigMap (nothing to schedule, so `--wait` returns at once) at its second
 * revision, so that "roll back" has a revision to go back to; its chart is written under `dir`.
 */
async function installRelease(dir: string, namespace: string, release: string): Promise<void> {
  const chart = join(dir, "chart");
  mkdirSync(join(chart, "templates"), { recursive: true });
  writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: settings\nversion: 0.1.0\n");
  writeFileSync(
    join(chart, "templates", "configmap.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  level: {{ .Values.level | quote }}\n",
  );
  const helm = (...args: string[]) =>
    execa(testCluster.helm, [...args, `--namespace=${namespace}`, `--kubeconfig=${testCluster.kubeconfig}`]);
  await helm("install", release, chart, "--set=level=1");
  await helm("upgrade", release, chart, "--set=level=2");
}

describe("the console in Chromium: request, approve, execute, audit", {
  skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium: apt-get install chromium (scripts/setup does)",
}, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "wh-console-shots-"));
  const profileDir = mkdtempSync(join(tmpdir(), "wh-console-chromium-"));
  const shots = process.env.UPDATE_SCREENSHOTS ? join(root, "docs", "console") : join(dataDir, "screenshots");
  const service = uniqueKubeName("web");
  // Its pods ask for a node that does not exist: never ready, so its verification keeps failing.
  const stuck = uniqueKubeName("stuck");
  // Rolled back, it is verified by its error ratio in Prometheus, which it never serves: inconclusive,
  // and the system is configured to pause on that for a person's verdict.
  const release = uniqueKubeName("settings");
  let base = "";
  let namespace: TestNamespace | null = null;
  let system: EmbeddedSystem | null = null;
  let browser: BrowserContext | null = null;
  let page: Page;
  const pageProblems: string[] = [];
  /** WebSockets the page opened: one per sign-in, unless a socket was dropped. */
  let sockets = 0;
  /** The issuer's token endpoint's answers to the page: the grant asked for, its status, when. */
  const tokenAnswers: { grant: string; status: number; at: number }[] = [];

  before(async () => {
    await ensureConsoleBuilt();
    mkdirSync(shots, { recursive: true });
    // A namespace the context service reads as staging, with the Deployment the change scales.
    namespace = await createTestNamespace("wh-console");
    await kubectl(["label", "namespace", namespace.name, "wheelhouse.dev/environment=staging"]);
    await createTestDeployment(namespace.name, service, { replicas: 2 });
    await kubectl(["create", "--filename=-"], {
      input: JSON.stringify(deploymentManifest(namespace.name, stuck, { replicas: 1, node: "no-such-node" })),
    });

    // The release is installed while the process starts (which takes far longer).
    const started = await Promise.allSettled([
      startEmbedded("console", {
        WHEELHOUSE_LOG__LEVEL: "warn",
        WHEELHOUSE_GATEWAY__AUTH__DEV_ACCESS_TOKEN_TTL_SECONDS: String(TOKEN_TTL_SECONDS),
        // Template Helm rollbacks are also judged by the error ratio: measured once, at once, and an
        // inconclusive measurement (no traffic) pauses for a verdict. Scales are not affected.
        WHEELHOUSE_CONNECTORS__PROMETHEUS__URL: PROMETHEUS_URL,
        WHEELHOUSE_CONNECTORS__PROMETHEUS__ERROR_RATIO__ON_INCONCLUSIVE: "pause",
        WHEELHOUSE_CONNECTORS__PROMETHEUS__ERROR_RATIO__INITIAL_DELAY_SECONDS: "0",
        WHEELHOUSE_CONNECTORS__PROMETHEUS__ERROR_RATIO__COUNT: "1",
      }).then((s) => {
        system = s;
        return s;
      }),
      installRelease(dataDir, namespace.name, release),
    ]);
    for (const outcome of started) if (outcome.status === "rejected") throw outcome.reason;
    base = (system as EmbeddedSystem | null)?.url ?? "";

    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (error) => pageProblems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) pageProblems.push(`CSP: ${message.text()}`);
    });
    page.on("websocket", () => {
      sockets += 1;
    });
    page.on("response", (response) => {
      const request = response.request();
      if (request.method() === "POST" && new URL(request.url()).pathname === "/dev-issuer/token") {
        const grant = new URLSearchParams(request.postData() ?? "").get("grant_type");
        tokenAnswers.push({ grant: grant ?? "?", status: response.status(), at: Date.now() });
      }
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await system?.stop();
    await namespace?.teardown();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  });

  /** The console's sign-in, through the development issuer's login page. */
  async function signIn(account: string, name: string) {
    await page.goto(`${base}/#/changes`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator(`button[name="account"][value="${account}"]`).click();
    await page.getByRole("heading", { level: 1, name: "Changes" }).waitFor();
    await page.locator(".user", { hasText: name }).waitFor();
    await page.locator(".live", { hasText: "Live" }).waitFor();
  }

  /** Signs out of the console and of the issuer (its confirmation page), back to the sign-in page. */
  async function signOut() {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Yes, sign me out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
  }

  /**
   * axe-core in the page (evaluated, as the CSP allows no injected script), then a screenshot of the
   * page, or of `part` of it, or none.
   */
  async function check(screen: string, { screenshot = true, part }: { screenshot?: boolean; part?: Locator } = {}) {
    await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      interface AxeViolation {
        id: string;
        impact: string | null;
        help: string;
        nodes: { target: string[] }[];
      }
      const { axe } = globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } };
      const result = await axe.run();
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
      }));
    });
    const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(serious, [], `${screen}: axe found serious or critical violations`);
    const path = join(shots, `${screen}.png`);
    if (part) await part.screenshot({ path });
    else if (screenshot) await page.screenshot({ path, fullPage: true });
  }

  /** Alice requests a change and watches policy make it pending, live; she cannot approve it herself. */
  async function requestChange(intent: string): Promise<string> {
    await page.goto(`${base}/#/changes`);
    await page.getByLabel("What should change?").fill(intent);
    await page.getByRole("button", { name: "Request change" }).click();
    await page.waitForURL(/#\/changes\/[\w-]+$/);
    const planUrl = page.url();
    // Policy decides after the page has loaded: the status changes live, without a reload.
    await page.locator(".plan-status", { hasText: "pending approval" }).waitFor({ timeout: 30_000 });
    assert.equal(page.url(), planUrl);
    assert.equal(await page.getByRole("button", { name: "Approve" }).isDisabled(), true);
    assert.match((await page.locator("#approve-why").textContent()) ?? "", /You requested this plan/);
    return planUrl;
  }

  /** Bob approves a plan from its page, with a comment. */
  async function approve(planUrl: string, comment: string) {
    await page.goto(planUrl);
    await page.getByLabel("Comment (optional)").fill(comment);
    await page.getByRole("button", { name: "Approve" }).click();
    await page.locator(".plan-status", { hasText: "approved" }).waitFor();
    await page.locator("table", { hasText: comment }).locator("td", { hasText: "console" }).waitFor();
  }

  it("alice requests and cannot approve her own plans, bob approves, alice's session outlives its token, she executes one to verified with its measurements charted, cancels another, and gives the verdict on a third paused for one, carol verifies the audit chain", {
    timeout: 300_000,
  }, async () => {
    await signIn("alice", "Alice");

    // The context service must have seen the Deployments before the planner can plan on them.
    await page.goto(`${base}/#/services?environment=staging`);
    await waitFor(
      "the Services screen to list the test's services",
      async () => {
        // Apply reads the list again (the screen has no live feed: the graph changes rarely).
        await page.getByRole("button", { name: "Apply" }).click();
        return Promise.all(
          [service, stuck].map((name) => page.getByRole("button", { name }).waitFor({ timeout: 2_000 })),
        )
          .then(() => true)
          .catch(() => false);
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await page.getByRole("button", { name: service }).click();
    await page.locator("dl.kv", { hasText: namespace?.name ?? "" }).waitFor();
    await check("services");

    const planUrl = await requestChange(`scale ${service} to 3 in staging`);
    const planId = decodeURIComponent(planUrl.split("/").at(-1) ?? "");
    const stuckUrl = await requestChange(`scale ${stuck} to 2 in staging`);
    const pausingUrl = await requestChange(`roll back ${release} in staging namespace ${namespace?.name}`);

    await signOut();
    await signIn("bob", "Bob");
    await page.goto(`${base}/#/approvals`);
    const waiting = page.locator("table", { hasText: "Waiting for you" }).locator(`a[href$="${planId}"]`);
    await waiting.waitFor();
    await check("approvals");
    // A second tab (signed in through the issuer's session) watches the list while bob approves:
    // the row changes live, and nothing on the page moves.
    const watcher = await (browser as BrowserContext).newPage();
    await watcher.goto(`${base}/#/changes`);
    await watcher.getByRole("button", { name: "Sign in" }).click();
    const watchedRow = watcher.locator("tr", { hasText: planId });
    await watchedRow.locator(".badge", { hasText: "pending approval" }).waitFor();
    // Browser code as text: it runs in the page, not under Node's types.
    await watcher.evaluate(`
      globalThis.layoutShift = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if (!entry.hadRecentInput) globalThis.layoutShift += entry.value;
      }).observe({ type: "layout-shift" });
    `);

    await waiting.click();
    await approve(planUrl, "checked the bounds");
    await watchedRow.locator(".badge", { hasText: "approved" }).waitFor();
    // Layout-shift entries are reported after the frame that painted the change.
    const shifted = await watcher.evaluate(
      "new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(globalThis.layoutShift))))",
    );
    assert.equal(shifted, 0, "the live update moved content on the Changes page");
    await watcher.close();
    await approve(stuckUrl, "fine to try");
    await approve(pausingUrl, "back to level 1");

    await signOut();
    await signIn("alice", "Alice");
    const signedInAt = Date.now();
    const socketsAtSignIn = sockets;
    await page.locator("tr", { hasText: planId }).locator(".badge", { hasText: "approved" }).waitFor();
    // The rollback runs, and pauses for its verdict, while the session goes on; its verdict comes below.
    await page.goto(pausingUrl);
    await page.getByRole("button", { name: "Execute" }).click();
    await page.locator(".notice", { hasText: "Execution accepted" }).waitFor();

    // The requester filter is the API's: the list asks for it, and bob requested nothing.
    const asked = page.waitForRequest((r) => /\/v1\/plans\?.*requester=bob/.test(r.url()));
    await page.goto(`${base}/#/changes?requester=bob`);
    await asked;
    await page.locator("td", { hasText: "No changes match." }).waitFor();
    const mine = page.waitForRequest((r) => /\/v1\/plans\?.*requester=alice/.test(r.url()));
    await page.goto(`${base}/#/changes?requester=alice`);
    await mine;
    await page.locator("tr", { hasText: planId }).waitFor();
    await check("changes");

    // Her first token expires TOKEN_TTL_SECONDS after sign-in: the console has refreshed it before,
    // and goes on without a sign-in, on the same WebSocket (the gateway closes one at its token's
    // expiry unless it is handed the fresh one).
    await waitFor(
      "the first token's expiry to pass with a refreshed token in hand",
      () =>
        Date.now() > signedInAt + (TOKEN_TTL_SECONDS + 3) * 1000 &&
        tokenAnswers.some((t) => t.grant === "refresh_token" && t.status === 200 && t.at > signedInAt),
      { timeoutMs: (TOKEN_TTL_SECONDS + 30) * 1000, intervalMs: 500 },
    );
    assert.deepEqual(
      tokenAnswers.filter((t) => t.at > signedInAt).map((t) => [t.grant, t.status]),
      tokenAnswers.filter((t) => t.at > signedInAt).map(() => ["refresh_token", 200]),
      "after sign-in, only refreshes",
    );
    assert.equal(sockets, socketsAtSignIn, "the WebSocket was dropped and opened again");
    await page.locator(".live", { hasText: "Live" }).waitFor();
    await page.locator(".user", { hasText: "Alice" }).waitFor();

    await page.goto(planUrl);
    await page.getByRole("button", { name: "Execute" }).click();
    // The tool output arrives over SSE while the execution runs, then the outcome live over the WebSocket.
    await page.locator('pre[aria-label^="Live output"]').first().waitFor({ timeout: 30_000 });
    await page.locator(".execution-status", { hasText: "succeeded" }).waitFor({ timeout: 90_000 });
    await page.locator(".badge", { hasText: "verified" }).first().waitFor();
    assert.equal(page.url(), planUrl, "the page was never reloaded");
    const deployment = await kubeGet<Deployment>("deployment", service, `--namespace=${namespace?.name}`);
    assert.equal(deployment?.spec.replicas, 3);
    // The ready replicas measured against the step's input (3): charted, with a table of the values.
    const chart = page.locator("figure.measurements", { hasText: ".status.readyReplicas" });
    await chart.locator('svg[role="img"]').waitFor({ timeout: 30_000 });
    assert.match((await chart.locator("svg title").textContent()) ?? "", /passes = 3/);
    await chart.locator("td", { hasText: "pass" }).first().waitFor();
    await check("change");

    // The second change runs, and its verification keeps failing (no pod can be scheduled): cancel it.
    await page.goto(stuckUrl);
    await page.getByRole("button", { name: "Execute" }).click();
    const stuckChart = page.locator("figure.measurements", { hasText: ".status.readyReplicas" });
    await stuckChart.locator(".badge", { hasText: "fail" }).first().waitFor({ timeout: 60_000 });
    await page.locator(".execution-status", { hasText: "running" }).waitFor();
    await page.getByRole("button", { name: "Cancel execution…" }).click();
    const reason = page.getByLabel(/^Why\?/);
    await reason.waitFor();
    // The reason has the focus (set on the next frame after the form appears).
    await page.locator('textarea[name="reason"]:focus').waitFor({ timeout: 2_000 });
    await reason.fill("pods cannot be scheduled: no such node");
    await check("cancel form", { screenshot: false });
    await page.getByRole("button", { name: "Confirm cancellation" }).click();
    await page.locator(".notice", { hasText: "Cancellation accepted" }).waitFor();
    // The reason shows at once: in the banner while the run has not stopped yet, then in its outcome. The
    // workflow stops before its next measurement (services/orchestrator/workflows/verify.ts), which can come
    // before the page draws the banner, so either one counts here; the outcome is waited for below.
    await page.locator(".cancel-requested, .outcome", { hasText: "pods cannot be scheduled" }).first().waitFor();
    await page.locator(".timeline li", { hasText: "execution.cancel_requested" }).first().waitFor({ timeout: 30_000 });
    await page.locator(".execution-status", { hasText: "cancelled" }).waitFor({ timeout: 60_000 });
    await page.locator(".outcome", { hasText: "pods cannot be scheduled" }).waitFor();
    await check("cancel", { part: page.locator("article.execution") });
    // Asked once: no second Cancel for it.
    assert.equal(await page.getByRole("button", { name: "Cancel execution…" }).count(), 0);
    assert.equal(page.url(), stuckUrl, "the page was never reloaded");

    // The rollback's error ratio stayed inconclusive and its verification paused: the page names the
    // check, its measurement, and asks alice (who requested it) for a verdict.
    await page.goto(pausingUrl);
    await page.locator(".execution-status", { hasText: "paused" }).waitFor({ timeout: 60_000 });
    const panel = page.locator("section.verdict", { hasText: "Needs your verdict" });
    await panel.locator(".verdict-check", { hasText: `release ${release} reports status deployed` }).waitFor();
    await panel.locator(".verdict-series li", { hasText: "inconclusive" }).first().waitFor();
    // An empty reason is refused in the page, before any request.
    await panel.getByRole("button", { name: "Pass" }).click();
    await panel.locator(".field-error", { hasText: "A reason is required" }).waitFor();
    const because = "no traffic to judge by yet; the release itself is deployed";
    const verdictReason = panel.getByLabel(/^Why\? \(required/);
    await verdictReason.fill(because);
    await check("verdict", { part: panel });
    // A refusal of the API shows its detail and fix and keeps the reason. The first request is sent
    // with a decision the gateway does not take (changed on its way: the only refusal a person who
    // may give the verdict can meet on demand); the refusal is the real gateway's.
    await page.route(
      /\/v1\/executions\/[^/?]+:verdict(\?|$)/,
      (route) =>
        route.continue({
          postData: JSON.stringify({ ...JSON.parse(route.request().postData() ?? "{}"), decision: "maybe" }),
        }),
      { times: 1 },
    );
    await panel.getByRole("button", { name: "Pass" }).click();
    const refusal = panel.locator(".problem", { hasText: "Fix:" });
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? "", /decision/);
    assert.equal(await verdictReason.inputValue(), because);
    await panel.getByRole("button", { name: "Pass" }).click();
    await page.locator(".notice", { hasText: "Verdict accepted" }).waitFor();
    // Verification goes on with the verdict: the check passes, and the execution succeeds.
    await page.locator(".execution-status", { hasText: "succeeded" }).waitFor({ timeout: 60_000 });
    await page
      .locator("article.execution li", { hasText: `judged pass by alice: ${because}` })
      .first()
      .waitFor();
    assert.equal(await page.locator("section.verdict").count(), 0);

    // An API error shows its detail and its fix: alice is no admin.
    await page.goto(`${base}/#/audit`);
    await page.getByRole("button", { name: "Verify chain" }).click();
    await page.locator(".problem", { hasText: "Fix:" }).waitFor();

    await signOut();
    await signIn("carol", "Carol");
    // The plan's trail, and the whole chain verified.
    await page.goto(`${base}/#/audit?aggregate_id=${planId}`);
    await page.locator("td", { hasText: "approval.granted" }).waitFor();
    await page.getByRole("button", { name: "Verify chain" }).click();
    await page.locator(".result-ok", { hasText: "The audit chain is intact." }).waitFor();
    await check("audit");

    assert.deepEqual(pageProblems, []);
  });
});

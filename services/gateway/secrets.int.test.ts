/**
 * No secret is stored, at any entry: every kind of secret in the corpus
 * (test/fixtures/redaction/kinds.json) is sent through every way text gets
 * into the gateway — a plan's intent, an approval's and a denial's comment,
 * Alertmanager labels, annotations and group key, GitHub push and pull
 * request bodies, an Argo CD notification — and then looked for, raw, in
 * everything the gateway wrote: every message of every stream (events,
 * output, idempotency store), every row of every table in its Postgres
 * schema, and its log lines. (The gateway stores no evidence; the planner's
 * and the tool router's evidence have their own tests: lib/llm's
 * redaction test and services/tool-router/recorder-redaction.int.test.ts.)
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import { leaked, loadCorpus, type SecretKind } from "../../test/fixtures/redaction/corpus.ts";
import { proposeAndDecide, startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { testEnv } from "../../test/support/index.ts";

/** The digest of the empty steps these tests propose: what their approvals name. */
const EMPTY_DIGEST = planRevisionDigest([]);

const { kinds } = loadCorpus();
const fixture = (path: string) =>
  readFileSync(new URL(`../../test/fixtures/webhooks/${path}`, import.meta.url), "utf8");

describe("secrets are redacted at every entry before anything is stored (real NATS, Postgres)", () => {
  let gw: TestGateway;
  let alice: string;
  let bob: string;
  const logLines: string[] = [];

  before(async () => {
    gw = await startTestGateway({
      logLevel: "debug",
      logDestination: new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    });
    alice = await gw.token("alice", ["operator"]);
    bob = await gw.token("bob", ["approver"]);
  });
  after(() => gw.stop());

  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    assert.ok(res.status === 202, `${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const sign = (body: string) =>
    `sha256=${createHmac("sha256", gw.secrets.githubSecret ?? "")
      .update(body)
      .digest("hex")}`;

  /** Everything the gateway stored, as text: stream messages (data and headers) and Postgres rows. */
  async function everythingStored(): Promise<Record<string, string>> {
    const jsm = await gw.store.manager();
    const out: Record<string, string> = {};
    const streams = [...Object.values(gw.store.streams), `KV_${gw.prefix}_idem`];
    for (const name of streams) {
      const info = await jsm.streams.info(name).catch(() => null);
      if (info === null) continue;
      const parts: string[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
        if (m === null) continue;
        parts.push(new TextDecoder().decode(m.data), JSON.stringify(m.header ? [...m.header] : []), m.subject);
      }
      out[`stream ${name}`] = parts.join("\n");
    }
    const admin = new pg.Client({ connectionString: testEnv.pgUrl });
    await admin.connect();
    try {
      const tables = await admin.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
        [gw.schema],
      );
      for (const { table_name } of tables.rows) {
        const rows = await admin.query(`SELECT * FROM "${gw.schema}"."${table_name}"`);
        out[`postgres ${table_name}`] = JSON.stringify(rows.rows);
      }
    } finally {
      await admin.end();
    }
    return out;
  }

  function leaksIn(stored: Record<string, string>, cases: readonly SecretKind[]): string[] {
    const found: string[] = [];
    for (const { kind, secrets } of cases) {
      for (const [where, text] of Object.entries(stored)) {
        if (secrets.some((s) => leaked(text, s))) found.push(`${kind} → ${where}`);
      }
    }
    return found;
  }

  it("every kind, through intents, comments, alerts, GitHub and Argo CD: zero leaks in the streams, Postgres and logs", async () => {
    // Plan intents, and an approver's comment on each (grant and deny in turn).
    for (const [i, { kind, text }] of kinds.entries()) {
      const plan = await post("/v1/plans", JSON.stringify({ intent: `scale checkout to 3 (${kind}): ${text}` }), {
        authorization: `Bearer ${alice}`,
      });
      const planId = String(plan.id);
      await proposeAndDecide(gw.store, planId, "require_approval", { correlationId: `secrets-${i}` });
      const decision = i % 2 === 0 ? "grant" : "deny";
      await post(
        "/v1/approvals",
        JSON.stringify({
          plan_id: planId,
          revision: 1,
          digest: EMPTY_DIGEST,
          decision,
          comment: `looked at it: ${text}`.slice(0, 2000),
        }),
        { authorization: `Bearer ${bob}` },
      );
    }

    // Alertmanager: the secret in a label, in annotations (values and a key), and in the group key.
    const am = JSON.parse(fixture("alertmanager/firing.json")) as Record<string, unknown> & {
      alerts: Record<string, unknown>[];
    };
    const template = am.alerts[0] ?? {};
    am.groupKey = `{}:{alertname="SecretLeak", token="${kinds.find((k) => k.kind === "github_pat")?.secrets[0]}"}`;
    am.commonAnnotations = { note: kinds.find((k) => k.kind === "django_secret_key")?.text ?? "" };
    am.alerts = kinds.map(({ kind, text }, i) => ({
      ...template,
      fingerprint: `f${i.toString(16).padStart(15, "0")}`,
      labels: { alertname: "SecretLeak", service: "checkout", kind, detail: text },
      annotations: { summary: `${kind}: ${text}`, description: text, [`${kind}_value`]: text },
    }));
    await post("/v1/hooks/alertmanager", JSON.stringify(am), {
      authorization: `Bearer ${gw.secrets.alertmanagerToken}`,
    });

    // GitHub: the secret in a commit message and in a pull request's title; Argo CD: in the message.
    const push = JSON.parse(fixture("github/push.json")) as Record<string, unknown> & {
      head_commit: Record<string, unknown>;
    };
    const pr = JSON.parse(fixture("github/pull_request.json")) as Record<string, unknown> & {
      pull_request: Record<string, unknown>;
    };
    const argo = JSON.parse(fixture("argocd/sync-failed.json")) as Record<string, unknown>;
    for (const [i, { kind, text }] of kinds.entries()) {
      const after = i.toString(16).padStart(40, "a");
      const pushBody = JSON.stringify({
        ...push,
        after,
        head_commit: { ...push.head_commit, id: after, message: text },
      });
      await post("/v1/hooks/git", pushBody, {
        "x-github-event": "push",
        "x-github-delivery": `push-${kind}`,
        "x-hub-signature-256": sign(pushBody),
      });
      const prBody = JSON.stringify({
        ...pr,
        number: 1000 + i,
        pull_request: { ...pr.pull_request, title: `fix: ${text}` },
      });
      await post("/v1/hooks/git", prBody, {
        "x-github-event": "pull_request",
        "x-github-delivery": `pr-${kind}`,
        "x-hub-signature-256": sign(prBody),
      });
      await post(
        "/v1/hooks/argocd",
        JSON.stringify({
          ...argo,
          operation_started_at: new Date(1_750_000_000_000 + i * 1000).toISOString(),
          message: text,
        }),
        { "x-wheelhouse-token": gw.secrets.argocdSecret ?? "" },
      );
    }

    await gw.projector?.catchUp(30_000);
    const stored = await everythingStored();
    // The test can fail: what it sent is there, redacted.
    assert.match(stored[`stream ${gw.store.streams.events}`] ?? "", /\[REDACTED:[a-z0-9_]+(:\d+)?\]/);
    assert.ok(
      Object.keys(stored).some((k) => k.startsWith("postgres ")),
      Object.keys(stored).join(", "),
    );
    stored.logs = logLines.join("");
    assert.ok(stored.logs.length > 0, "the gateway logged something");
    assert.deepEqual(leaksIn(stored, kinds), []);
  });
});

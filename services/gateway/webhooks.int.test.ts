import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";

const fixture = (path: string) =>
  readFileSync(new URL(`../../test/fixtures/webhooks/${path}`, import.meta.url), "utf8");

describe("webhooks over real HTTP and NATS", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ projector: false });
  });
  after(() => gw.stop());

  const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
    fetch(`${gw.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  async function signals(res: Response) {
    assert.equal(res.status, 202, await res.clone().text());
    return (await res.json()) as {
      signals: { signal_id: string; duplicate: boolean }[];
      accepted: number;
      duplicates: number;
    };
  }

  async function signal(id: string): Promise<AnyRecordedEvent & { type: "signal.received" }> {
    const [event] = await gw.store.readAggregate("signal", id);
    assert.equal(event?.type, "signal.received");
    return event as AnyRecordedEvent & { type: "signal.received" };
  }

  const refusedWithNothingAppended = async (res: Promise<Response>, status = 401) => {
    const before = await gw.eventCount();
    const r = await res;
    assert.equal(r.status, status, await r.clone().text());
    assert.match(r.headers.get("content-type") ?? "", /problem\+json/);
    assert.equal(await gw.eventCount(), before);
    return (await r.json()) as { field?: string };
  };

  it("Alertmanager v4: one signal per alert with bearer credentials, deduplicated on redelivery", async () => {
    const auth = { authorization: `Bearer ${gw.secrets.alertmanagerToken}` };
    const first = await signals(await post("/v1/hooks/alertmanager", fixture("alertmanager/firing.json"), auth));
    assert.equal(first.accepted, 2);
    const event = await signal(first.signals[0]?.signal_id ?? "");
    assert.equal(event.payload.source, "alertmanager");
    assert.equal(event.payload.status, "firing");
    assert.equal(event.payload.service, "checkout");
    assert.equal(event.payload.environment, "production");
    assert.equal(event.payload.summary, "checkout 5xx rate above 5% for 5 minutes");
    assert.equal(event.actor.id, "webhook:alertmanager");
    const before = await gw.eventCount();
    const again = await signals(await post("/v1/hooks/alertmanager", fixture("alertmanager/firing.json"), auth));
    assert.equal(again.duplicates, 2);
    assert.deepEqual(
      again.signals.map((s) => s.signal_id),
      first.signals.map((s) => s.signal_id),
    );
    assert.equal(await gw.eventCount(), before);
    const resolved = await signals(await post("/v1/hooks/alertmanager", fixture("alertmanager/resolved.json"), auth));
    assert.equal(resolved.accepted, 1);
    assert.equal((await signal(resolved.signals[0]?.signal_id ?? "")).payload.status, "resolved");
    // basic_auth from http_config: the password is the shared token.
    const basic = Buffer.from(`alertmanager:${gw.secrets.alertmanagerToken}`).toString("base64");
    const viaBasic = await signals(
      await post("/v1/hooks/alertmanager", fixture("alertmanager/resolved.json"), { authorization: `Basic ${basic}` }),
    );
    assert.equal(viaBasic.duplicates, 1);
  });

  it("Alertmanager: wrong or missing credentials get 401 and nothing is appended", async () => {
    const body = fixture("alertmanager/firing.json").replace("c6a0b1f2d3e4a5b6", "ffff0000ffff0000");
    const missing = await refusedWithNothingAppended(post("/v1/hooks/alertmanager", body, {}));
    assert.equal(missing.field, "Authorization");
    await refusedWithNothingAppended(post("/v1/hooks/alertmanager", body, { authorization: "Bearer wrong" }));
    const badBasic = Buffer.from("alertmanager:wrong").toString("base64");
    await refusedWithNothingAppended(post("/v1/hooks/alertmanager", body, { authorization: `Basic ${badBasic}` }));
  });

  it("Alertmanager: a payload of another version or shape is a 400 naming the field", async () => {
    const auth = { authorization: `Bearer ${gw.secrets.alertmanagerToken}` };
    const v3 = JSON.stringify({ ...JSON.parse(fixture("alertmanager/firing.json")), version: "3" });
    const r = await refusedWithNothingAppended(post("/v1/hooks/alertmanager", v3, auth), 400);
    assert.equal(r.field, "body.version");
    await refusedWithNothingAppended(post("/v1/hooks/alertmanager", '{"version":"4",', auth), 400);
    await refusedWithNothingAppended(post("/v1/hooks/alertmanager", "[]", auth), 400);
  });

  it("Argo CD: shared secret header; one signal per notification, duplicates once", async () => {
    const headers = { "x-wheelhouse-token": gw.secrets.argocdSecret ?? "" };
    const first = await signals(await post("/v1/hooks/argocd", fixture("argocd/sync-failed.json"), headers));
    assert.equal(first.accepted, 1);
    const event = await signal(first.signals[0]?.signal_id ?? "");
    assert.equal(event.payload.kind, "deploy.failed");
    assert.equal(event.payload.service, "checkout");
    assert.equal(event.payload.environment, "production");
    const again = await signals(await post("/v1/hooks/argocd", fixture("argocd/sync-failed.json"), headers));
    assert.equal(again.duplicates, 1);
    await refusedWithNothingAppended(post("/v1/hooks/argocd", fixture("argocd/sync-failed.json"), {}));
    await refusedWithNothingAppended(
      post("/v1/hooks/argocd", fixture("argocd/sync-failed.json"), { "x-wheelhouse-token": "nope" }),
    );
  });

  const sign = (body: string | Buffer, secret = gw.secrets.githubSecret ?? "") =>
    `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

  it("GitHub push and pull_request: HMAC over the raw body, deduplicated on redelivery", async () => {
    const body = fixture("github/push.json");
    const headers = {
      "x-github-event": "push",
      "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      "x-hub-signature-256": sign(body),
    };
    const first = await signals(await post("/v1/hooks/git", body, headers));
    assert.equal(first.accepted, 1);
    const event = await signal(first.signals[0]?.signal_id ?? "");
    assert.equal(event.payload.kind, "git.push");
    assert.equal(event.payload.service, "shop-deploy");
    assert.match(event.payload.summary, /octocat pushed 1 commit/);
    const again = await signals(await post("/v1/hooks/git", body, headers));
    assert.equal(again.duplicates, 1);
    const prBody = fixture("github/pull_request.json");
    const pr = await signals(
      await post("/v1/hooks/git", prBody, {
        "x-github-event": "pull_request",
        "x-github-delivery": "8a1b2c3d-cc78-11e3-81ab-4c9367dc0958",
        "x-hub-signature-256": sign(prBody),
      }),
    );
    assert.equal((await signal(pr.signals[0]?.signal_id ?? "")).payload.kind, "git.pull_request.closed");
    const ping = await post("/v1/hooks/git", '{"zen":"Keep it logically awesome."}', {
      "x-github-event": "ping",
      "x-github-delivery": "ping-1",
      "x-hub-signature-256": sign('{"zen":"Keep it logically awesome."}'),
    });
    assert.equal(ping.status, 200);
  });

  it("GitHub: the same body under a new X-GitHub-Delivery is the same signal (real deliveries)", async () => {
    const real = (name: string) =>
      readFileSync(new URL(`../../../shared/webhook-payloads/github/${name}`, import.meta.url), "utf8");
    const deliveries = [
      ["push", "push_payload.json"],
      ["push", "push_with-new-branch.payload.json"],
      ["pull_request", "pull_request_opened.payload.json"],
      ["pull_request", "pull_request_synchronize.payload.json"],
      ["pull_request", "pull_request_closed.payload.json"],
      ["workflow_run", "workflow_run_completed.payload.json"],
      ["check_run", "check_run_completed.payload.json"],
    ] as const;
    const ids = new Set<string>();
    for (const [event, name] of deliveries) {
      const body = real(name);
      const send = (delivery: string) =>
        post("/v1/hooks/git", body, {
          "x-github-event": event,
          "x-github-delivery": delivery,
          "x-hub-signature-256": sign(body),
        });
      const first = await signals(await send(`${name}-first`));
      assert.equal(first.accepted, 1, name);
      const before = await gw.eventCount();
      const replay = await signals(await send(`${name}-replayed-under-a-new-id`));
      assert.equal(replay.duplicates, 1, `${name} replayed under a new delivery id made a second signal`);
      assert.equal(replay.signals[0]?.signal_id, first.signals[0]?.signal_id);
      assert.equal(await gw.eventCount(), before, `${name}: nothing appended for the replay`);
      ids.add(first.signals[0]?.signal_id ?? "");
    }
    // Distinct events (opened, synchronize, closed of one pull request; two pushes) stay distinct.
    assert.equal(ids.size, deliveries.length);
  });

  it("GitHub: a forged, re-serialized, wrong-secret or missing signature gets 401 and nothing is appended", async () => {
    const body = fixture("github/push.json").replace("0d1a26e67d8f", "1d1a26e67d8f");
    const base = { "x-github-event": "push", "x-github-delivery": "forged-1" };
    await refusedWithNothingAppended(post("/v1/hooks/git", body, base));
    await refusedWithNothingAppended(
      post("/v1/hooks/git", body, { ...base, "x-hub-signature-256": sign(body, "guess") }),
    );
    // Same JSON, different bytes: the signature is over the raw body, not the parsed document.
    const reserialized = JSON.stringify(JSON.parse(body));
    await refusedWithNothingAppended(
      post("/v1/hooks/git", reserialized, { ...base, "x-hub-signature-256": sign(body) }),
    );
    await refusedWithNothingAppended(post("/v1/hooks/git", body, { ...base, "x-hub-signature-256": "sha256=abc" }));
    await refusedWithNothingAppended(post("/v1/hooks/git", body, { "x-hub-signature-256": sign(body) }));
  });

  it("GitLab push: X-Gitlab-Token, deduplicated on X-Gitlab-Event-UUID", async () => {
    const body = fixture("gitlab/push.json");
    const headers = {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": gw.secrets.gitlabToken ?? "",
      "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e",
    };
    const first = await signals(await post("/v1/hooks/git", body, headers));
    const event = await signal(first.signals[0]?.signal_id ?? "");
    assert.equal(event.payload.source, "gitlab");
    assert.equal(event.payload.kind, "git.push");
    assert.match(event.payload.summary, /jsmith pushed 1 commit/);
    assert.equal((await signals(await post("/v1/hooks/git", body, headers))).duplicates, 1);
    await refusedWithNothingAppended(
      post("/v1/hooks/git", body, { ...headers, "x-gitlab-token": "nope", "x-gitlab-event-uuid": "x2" }),
    );
    const { "x-gitlab-token": _t, ...noToken } = headers;
    await refusedWithNothingAppended(post("/v1/hooks/git", body, { ...noToken, "x-gitlab-event-uuid": "x3" }));
  });
});

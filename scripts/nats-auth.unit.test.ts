import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AggregateTypeSchema } from "../events/envelope.ts";
import { type NatsUserName, natsUsers, seedFileName, writeNatsAuth } from "./nats-auth.ts";

/** NATS subject matching: `*` is one token, `>` the rest (at least one token). */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
const mayPublish = (user: NatsUserName, subject: string) =>
  natsUsers[user].publish.some((pattern) => matches(pattern, subject));

describe("NATS users", () => {
  const table: [NatsUserName, string, boolean][] = [
    ["gateway", "wh.evt.plan.p1", true],
    ["gateway", "wh.evt.signal.s1", true],
    ["gateway", "wh.evt.execution.e1", true],
    ["gateway", "wh.out.execution.e1", false],
    ["gateway", "$KV.wh_idempotency.key", true],
    ["planner", "wh.evt.plan.p1", true],
    ["planner", "wh.evt.execution.e1", false],
    ["planner", "wh.evt.signal.s1", false],
    ["policy", "wh.evt.plan.p1", true],
    ["policy", "wh.evt.execution.e1", false],
    ["orchestrator", "wh.evt.execution.e1", true],
    // Each write is authorised on the plan (plan.write_authorized), and policy starts stage-2 executions.
    ["orchestrator", "wh.evt.plan.p1", true],
    ["tool-router", "wh.evt.execution.e1", true],
    ["tool-router", "wh.out.execution.e1", true],
    ["tool-router", "wh.evt.plan.p1", false],
    ["context", "wh.evt.context.svc_shop_checkout", true],
    ["context", "wh.evt.plan.p1", false],
    ["context", "wh.dlq.context", false],
    ["projector", "wh.evt.plan.p1", false],
    ["projector", "wh.evt.execution.e1", false],
    ["projector", "wh.dlq.projector", true],
    ["projector", "$KV.wh_idempotency.key", false],
    ["gateway", "wh.approvals.linear.webhook", true],
    ["approvals", "wh.evt.plan.p1", true],
    ["approvals", "wh.evt.execution.e1", false],
    ["approvals", "wh.approvals.linear.webhook", false],
    ["approvals", "$KV.wh_idempotency.key", false],
    ["chatops", "wh.evt.plan.p1", false],
    ["chatops", "$KV.wh_chatops.msg", true],
    ["embedded", "wh.approvals.linear.webhook", true],
    ["embedded", "t_0a1b2c3d.evt.context.c1", true],
    ["embedded", "wh.evt.plan.p1.extra", false],
    ["embedded", "$JS.API.STREAM.UPDATE.WH_EVENTS", true],
  ];
  for (const [user, subject, allowed] of table) {
    it(`${user} ${allowed ? "may" : "may not"} publish to ${subject}`, () => {
      assert.equal(mayPublish(user, subject), allowed);
    });
  }

  it("lets the embedded process record every aggregate's events", () => {
    for (const aggregate of AggregateTypeSchema.options) {
      assert.ok(mayPublish("embedded", `wh.evt.${aggregate}.x`), aggregate);
    }
  });

  it("lets no service change, purge or delete a stream or its messages; the embedded process only updates", () => {
    const destructive = ["STREAM.DELETE", "STREAM.PURGE", "STREAM.MSG.DELETE", "STREAM.RESTORE.X", "STREAM.UPDATE"];
    for (const user of Object.keys(natsUsers) as NatsUserName[]) {
      if (user === "admin") continue;
      for (const op of destructive) {
        const allowed = mayPublish(user, `$JS.API.${op}.WH_EVENTS`);
        assert.equal(allowed, user === "embedded" && op === "STREAM.UPDATE", `${user} ${op}`);
      }
    }
  });
});

describe("writeNatsAuth", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "wh-nats-auth-")), "auth");
  after(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

  it("writes one private seed per user and an auth.conf with their public keys, no anonymous user", () => {
    const keys = writeNatsAuth(dir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const conf = readFileSync(join(dir, "auth.conf"), "utf8");
    for (const user of Object.keys(natsUsers) as NatsUserName[]) {
      const file = join(dir, seedFileName(user));
      assert.equal(statSync(file).mode & 0o777, 0o600, file);
      assert.match(readFileSync(file, "utf8"), /^SU[A-Z2-7]{56}\n$/);
      assert.ok(conf.includes(`nkey: "${keys[user]}"`), user);
    }
    assert.equal(statSync(join(dir, "auth.conf")).mode & 0o777, 0o600);
    assert.doesNotMatch(conf, /^\s*no_auth_user|SU[A-Z2-7]{56}/m);
  });

  it("keeps the seeds it finds, so running it again leaves connected services valid", () => {
    const first = writeNatsAuth(dir);
    const second = writeNatsAuth(dir);
    assert.deepEqual(second, first);
  });
});

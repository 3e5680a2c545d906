/**
 * The audit queries over the real stack: events appended to JetStream,
 * projected into Postgres by the registered projections (plans, executions,
 * evidence and audit, each batch in one transaction as the projector does),
 * evidence in MinIO.
 *
 * The scenario's evidence bucket has no object lock: the test alters a blob
 * in place, which a locked bucket prevents by design (a new PUT only adds a
 * version; the recorded version stays readable). The lock itself is tested
 * in lib/evidence/evidence.int.test.ts.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Actor, type AnyEvent, type AnyRecordedEvent, type EventMeta, newEvent } from "../../events/index.ts";
import type { ExecutionView } from "../../projections/executions/fold.ts";
import { loadExecutionViews } from "../../projections/executions/sql.ts";
import { projections } from "../../projections/index.ts";
import type { PlanView } from "../../projections/plans/fold.ts";
import { loadPlanViews } from "../../projections/plans/sql.ts";
import { readModelFolds } from "../../projections/replay.ts";
import { applyWithWriter } from "../../projections/types.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  minioClient,
  removeBuckets,
  testEnv,
  waitFor,
} from "../../test/support/index.ts";
import { createDb, type Db } from "../db/index.ts";
import { slonikSqlClient } from "../db/sql.ts";
import { createEventStore, type EventStore } from "../eventstore/index.ts";
import { createEvidenceStore, type EvidenceMeta, type EvidenceStore, evidenceStoredEvent } from "../evidence/index.ts";
import { canonicalize } from "./canonical.ts";
import { type AuditEventView, type AuditQueries, createAuditQueries } from "./queries.ts";

const env = { S3_KEY: testEnv.minio.accessKey, S3_SECRET: testEnv.minio.secretKey };

const alice = { kind: "user" as const, id: "alice", roles: ["operator" as const] };
const bob = { kind: "user" as const, id: "bob", roles: ["approver" as const] };
const planner = { kind: "service" as const, id: "planner", roles: [] };
const policy = { kind: "service" as const, id: "policy", roles: [] };
const orchestrator = { kind: "service" as const, id: "orchestrator", roles: [] };

const tag = randomBytes(3).toString("hex");
const prefix = `t_audit_${tag}`;
const schema = `t_audit_q_${tag}`;
const bucket = `t-audit-${tag}`;
const planId = `plan-${tag}`;
const execId = `exec-${tag}`;
const corr = `corr-${tag}`;

let nc: NatsConnection;
let store: EventStore;
let db: Db;
let evidence: EvidenceStore;
let audit: AuditQueries<PlanView, ExecutionView>;
let checkpoint = 0;
const minio = minioClient();

/** What the projector does: every new batch of the events stream through every projection, in one transaction. */
async function project(): Promise<void> {
  const last = await store.lastSeq();
  if (last <= checkpoint) return;
  for await (const batch of store.readStream({ fromSeq: checkpoint + 1, upToSeq: last })) {
    await db.transaction(async (tx) => {
      for (const p of projections) {
        const mine = batch.filter((e) => p.handles.has(e.type));
        if (mine.length > 0) await applyWithWriter(p.createWriter(), tx, mine);
      }
    });
    checkpoint = (batch[batch.length - 1] as AnyRecordedEvent).seq;
  }
}

async function append(...events: AnyEvent[]): Promise<void> {
  await store.append(events);
}

const meta = (actor: EventMeta["actor"], causation?: string): EventMeta => ({
  actor,
  correlation_id: corr,
  causation_id: causation ?? null,
});

async function storeBlob(m: EvidenceMeta, blob: string, actor: EventMeta["actor"]) {
  const stored = await evidence.storeEvidence(m, blob);
  return { stored, event: evidenceStoredEvent(m, stored, meta(actor)) };
}

/** Read model snapshots taken while the scenario runs, compared with as-of replays afterwards. */
const snapshots: { at: string; label: string; plan: PlanView | null; execution: ExecutionView | null }[] = [];

async function snapshot(label: string): Promise<void> {
  await project();
  const plan = (await loadPlanViews(db.pool, [planId])).get(planId) ?? null;
  const execution = (await loadExecutionViews(db.pool, [execId])).get(execId) ?? null;
  const at = new Date().toISOString();
  snapshots.push({ at, label, plan, execution });
  // The next append must land in a later millisecond than `at` (a condition, not a sleep).
  await waitFor("the clock to advance", () => Date.now() > Date.parse(at), { timeoutMs: 1000, intervalMs: 1 });
}

/** Another change on other aggregates, interleaved so that replays have something to skip. */
async function noise(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `other-${tag}-${snapshots.length}-${i}`;
    await append(
      newEvent(
        "plan.requested",
        id,
        { plan_id: id, intent: "restart cart", source: "api", service: "cart" },
        {
          actor: bob,
          correlation_id: `corr-${id}`,
        },
      ),
    );
  }
}

const prompt = JSON.stringify({
  system: "You plan infrastructure changes.",
  user: "scale checkout to 3 (token [REDACTED])",
});
const answer = JSON.stringify({ steps: [{ action_id: "kubectl.scale", input: { replicas: 3 } }] });
const toolOutput = JSON.stringify({ stdout: "deployment.apps/checkout scaled\n", stderr: "" });
const verificationOutput = JSON.stringify({ promql: "rate(http_errors[5m])", value: 0.2 });
const rollbackOutput = JSON.stringify({ stdout: "deployment.apps/checkout scaled\n", stderr: "" });
const ids: Record<string, string> = {};

before(async () => {
  nc = await connectTestNats();
  store = createEventStore({ nc, prefix });
  await store.provision();
  db = await createDb({ url: testEnv.pgUrl, schema });
  evidence = createEvidenceStore(
    {
      kind: "s3",
      path: ".data/evidence",
      endpoint: testEnv.minioUrl,
      bucket,
      region: "us-east-1",
      access_key: "env:S3_KEY",
      secret_key: "env:S3_SECRET",
      retention_days: 0,
    },
    { env },
  );
  audit = createAuditQueries({
    db: slonikSqlClient(db.pool),
    eventStore: store,
    evidenceStore: evidence,
    folds: readModelFolds,
    pageSize: 7,
  });

  // The scripted change: request → plan (with prompt and answer) → policy → approval → execution → verification fails → rollback.
  await noise(3);
  const requested = newEvent(
    "plan.requested",
    planId,
    {
      plan_id: planId,
      intent: "scale checkout to 3 in staging",
      source: "api",
      environment: "staging",
      service: "checkout",
    },
    meta(alice),
  );
  ids.requested = requested.id;
  await append(requested);
  await snapshot("requested");

  const p = await storeBlob(
    { owner_type: "plan", owner_id: planId, kind: "prompt", content_type: "application/json", redacted: true },
    prompt,
    planner,
  );
  const a = await storeBlob(
    { owner_type: "plan", owner_id: planId, kind: "model_response", content_type: "application/json", redacted: true },
    answer,
    planner,
  );
  ids.prompt = p.stored.evidence_id;
  ids.answer = a.stored.evidence_id;
  const step = {
    step_id: "s1",
    action_id: "kubectl.scale",
    input: { namespace: "shop", name: "checkout", replicas: 3 },
    target: { environment: "staging", service: "checkout", namespace: "shop" },
    rationale: "more replicas for the sale",
    rollback: { action_id: "kubectl.scale", input: { namespace: "shop", name: "checkout", replicas: 2 } },
  };
  const proposed = newEvent(
    "plan.proposed",
    planId,
    {
      plan_id: planId,
      revision: 1,
      summary: "scale checkout 2→3",
      steps: [step],
      planner: { kind: "llm", provider: "openai", model: "gpt-x" },
      evidence_ids: [p.stored.evidence_id, a.stored.evidence_id],
    },
    meta(planner, requested.id),
  );
  await append(p.event, a.event, proposed);
  await noise(2);
  const decided = newEvent(
    "policy.decided",
    planId,
    {
      plan_id: planId,
      revision: 1,
      decision: "require_approval",
      tier: "T2",
      reasons: ["staging write needs one approver"],
      approvers_required: 1,
      constraints: {},
      ttl_seconds: 3600,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      policy_revision: "policy-rev-42",
      steps: [
        {
          step_id: "s1",
          decision: "require_approval",
          tier: "T2",
          reasons: ["write"],
          approvers_required: 1,
          constraints: {},
        },
      ],
    },
    meta(policy, proposed.id),
  );
  ids.decided = decided.id;
  await append(decided);
  await snapshot("decided");

  await append(
    newEvent(
      "approval.requested",
      planId,
      {
        plan_id: planId,
        revision: 1,
        approval_id: `appr-${tag}`,
        approvers_required: 1,
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        channels: ["api"],
      },
      meta(policy, decided.id),
    ),
  );
  const granted = newEvent(
    "approval.granted",
    planId,
    {
      plan_id: planId,
      revision: 1,
      approval_id: `appr-${tag}`,
      approver: "bob",
      channel: "api",
      digest: null,
      comment: "go",
    },
    meta(bob),
  );
  ids.granted = granted.id;
  await append(granted);
  await snapshot("approved");

  // Execution events of any type; newEvent still validates every payload at run time.
  const x = (type: Parameters<typeof newEvent>[0], payload: Record<string, unknown>, actor: Actor = orchestrator) =>
    newEvent(type, execId, { execution_id: execId, ...payload } as never, meta(actor)) as AnyEvent;
  await append(x("execution.requested", { plan_id: planId, revision: 1, dry_run: false }, alice));
  await append(x("execution.started", { plan_id: planId, workflow_id: execId }));
  await append(
    x("execution.step_started", {
      step_id: "s1",
      action_id: "kubectl.scale",
      status: "running",
      tool_call_id: `tc1-${tag}`,
    }),
  );
  const argv = ["kubectl", "scale", "deployment/checkout", "--replicas=3", "-n", "shop"];
  await append(
    x("tool_call.started", {
      tool_call_id: `tc1-${tag}`,
      step_id: "s1",
      action_id: "kubectl.scale",
      argv,
      binary: "kubectl",
      via: "cli",
      dry_run: false,
    }),
  );
  await snapshot("running");
  await noise(2);
  const out = await storeBlob(
    {
      owner_type: "execution",
      owner_id: execId,
      kind: "tool_output",
      content_type: "application/json",
      redacted: false,
    },
    toolOutput,
    orchestrator,
  );
  ids.output = out.stored.evidence_id;
  await append(
    out.event,
    x("tool_call.completed", {
      tool_call_id: `tc1-${tag}`,
      step_id: "s1",
      status: "succeeded",
      exit_code: 0,
      duration_ms: 812,
      truncated: false,
      stdout_sha256: "a".repeat(64),
      evidence_id: out.stored.evidence_id,
    }),
  );
  await append(
    x("execution.step_completed", {
      step_id: "s1",
      action_id: "kubectl.scale",
      status: "succeeded",
      tool_call_id: `tc1-${tag}`,
    }),
  );
  const ver = await storeBlob(
    {
      owner_type: "execution",
      owner_id: execId,
      kind: "verification",
      content_type: "application/json",
      redacted: false,
    },
    verificationOutput,
    orchestrator,
  );
  ids.verification = ver.stored.evidence_id;
  await append(
    ver.event,
    x("execution.verification_failed", {
      step_id: "s1",
      checks: [
        { description: "error rate below 1%", passed: false, detail: "20%", evidence_id: ver.stored.evidence_id },
      ],
    }),
  );
  await snapshot("verification_failed");
  await append(x("execution.rollback_started", { reason: "verification failed", step_ids: ["s1"] }));
  await append(
    x("tool_call.started", {
      tool_call_id: `tc2-${tag}`,
      step_id: "s1",
      action_id: "kubectl.scale",
      argv: ["kubectl", "scale", "deployment/checkout", "--replicas=2", "-n", "shop"],
      binary: "kubectl",
      via: "cli",
      dry_run: false,
    }),
  );
  const rb = await storeBlob(
    {
      owner_type: "execution",
      owner_id: execId,
      kind: "tool_output",
      content_type: "application/json",
      redacted: false,
    },
    rollbackOutput,
    orchestrator,
  );
  ids.rollbackOutput = rb.stored.evidence_id;
  await append(
    rb.event,
    x("tool_call.completed", {
      tool_call_id: `tc2-${tag}`,
      step_id: "s1",
      status: "succeeded",
      exit_code: 0,
      duration_ms: 640,
      truncated: false,
      evidence_id: rb.stored.evidence_id,
    }),
  );
  await append(x("execution.rolled_back", { reason: "verification failed", step_ids: ["s1"] }));
  await append(x("execution.failed", { plan_id: planId, reason: "verification failed; rolled back" }));
  await noise(1);
  await snapshot("finished");
});

after(async () => {
  await db?.close();
  await dropSchemas(schema);
  if (nc) await deleteStreams(nc, prefix);
  await nc?.close();
  await removeBuckets(minio, bucket);
});

describe("audit queries over NATS, Postgres and MinIO", () => {
  it("records every event of the stream in the chain, and the chain verifies", async () => {
    const result = await audit.verifyAudit();
    assert.equal(result.ok, true, JSON.stringify(result.chain.failure));
    assert.equal(result.chain.checked, await store.lastSeq());
    assert.equal(result.tail.behind, 0);
  });

  it("answers as-of queries equal to the read model at each moment", async () => {
    assert.ok(snapshots.length >= 5);
    for (const snap of snapshots) {
      const plan = await audit.planAsOf(planId, snap.at);
      assert.deepEqual(plan?.state ?? null, snap.plan, `plan as of ${snap.label}`);
      const execution = await audit.executionAsOf(execId, snap.at);
      assert.deepEqual(execution?.state ?? null, snap.execution, `execution as of ${snap.label}`);
    }
    assert.equal(snapshots[0]?.plan?.plan.status, "requested");
    assert.equal(snapshots.at(-1)?.execution?.execution.status, "failed");
    assert.equal(await audit.planAsOf(planId, "2000-01-01T00:00:00Z"), null, "nothing before the first event");
    await assert.rejects(audit.planAsOf(planId, "yesterday"), /time is not an ISO 8601 timestamp/);
  });

  it("lists the trail with filters and a cursor", async () => {
    const all: AuditEventView[] = [];
    let cursor: string | undefined;
    do {
      const page = await audit.listAuditEvents({ correlation_id: corr, limit: 4, cursor });
      all.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    const own = [...(await store.readAggregate("plan", planId)), ...(await store.readAggregate("execution", execId))];
    assert.deepEqual(all.map((r) => r.event_id).sort(), own.map((e) => e.id).sort());
    assert.ok(
      all.every((r, i) => i === 0 || r.seq > (all[i - 1]?.seq ?? 0)),
      "chain order",
    );

    const byActor = await audit.listAuditEvents({ actor: "bob", aggregate_id: planId });
    assert.deepEqual(
      byActor.items.map((r) => r.action),
      ["approval.granted"],
    );
    assert.equal(byActor.items[0]?.outcome, "granted");
    const decisions = await audit.listAuditEvents({ type: "policy.decided" });
    assert.equal(decisions.items[0]?.outcome, "require_approval");
    const byService = await audit.listAuditEvents({ service: "checkout", limit: 1000 });
    assert.equal(
      byService.items.length,
      own.length,
      "every record of the change that names checkout, executions included",
    );
    const cart = await audit.listAuditEvents({ service: "cart", limit: 1000 });
    assert.equal(cart.items.length, 8);
    const window = await audit.listAuditEvents({
      from: snapshots[1]?.at,
      to: snapshots[2]?.at,
      aggregate_type: "plan",
      limit: 1000,
    });
    assert.deepEqual(
      window.items.filter((r) => r.aggregate_id === planId).map((r) => r.action),
      ["approval.requested", "approval.granted"],
    );
    await assert.rejects(audit.listAuditEvents({ limit: 5000 }), /limit/);
    await assert.rejects(audit.listAuditEvents({ cursor: "garbage" }), /cursor/);
  });

  it("exports NDJSON whose lines prove the chain without Wheelhouse", async () => {
    let text = "";
    for await (const chunk of audit.exportAuditEvents({}, { checkColumns: true })) text += chunk;
    const raw = text.trimEnd().split("\n");
    assert.ok(
      raw.every((l) => l === canonicalize(JSON.parse(l))),
      "every line is canonical JSON",
    );
    const lines = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    const proof = lines.pop() as Record<string, unknown>;
    assert.equal(proof.kind, "chain_proof");
    assert.equal(proof.verified, true);
    assert.equal(proof.exported, lines.length);
    let prev = "0".repeat(64);
    for (const line of lines) {
      const { kind, prev_hash, hash, record } = line;
      assert.equal(kind, "audit_record");
      assert.equal(prev_hash, prev);
      assert.equal(
        createHash("sha256")
          .update(`${prev_hash}${canonicalize(record)}`)
          .digest("hex"),
        hash,
      );
      prev = hash as string;
    }
    assert.equal(proof.head_hash, prev);

    let filtered = "";
    for await (const chunk of audit.exportAuditEvents({ aggregate_id: execId })) filtered += chunk;
    const fl = filtered
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(fl.at(-1)?.kind, "chain_proof");
    assert.equal(fl.at(-1)?.head_hash, prev);
    assert.equal(fl.length - 1, (await store.readAggregate("execution", execId)).length);
  });

  it("explains the change from intent to rollback, each item pointing at real events and evidence", async () => {
    const events = new Map(
      [...(await store.readAggregate("plan", planId)), ...(await store.readAggregate("execution", execId))].map((e) => [
        e.id,
        e,
      ]),
    );
    const story = await audit.explainChange(planId, { verifyEvidence: true });
    assert.ok(story);
    const refs: { event_id: string; seq: number; audit: { seq: number; hash: string } | null }[] = [];
    const checkRef = (
      r:
        | { event_id: string; seq: number; type: string; audit: { seq: number; hash: string } | null }
        | null
        | undefined,
      type: string,
    ) => {
      assert.ok(r, `a ${type} event`);
      assert.equal(r.type, type);
      assert.equal(events.get(r.event_id)?.seq, r.seq, `${type} points at its event`);
      assert.ok(r.audit, `${type} points at its audit record`);
      refs.push(r);
    };
    const checkEvidence = (
      l:
        | {
            evidence_id: string;
            uri: string | null;
            sha256: string | null;
            verified?: boolean | undefined;
            recorded_by: unknown;
          }
        | null
        | undefined,
      id: string,
    ) => {
      assert.ok(l);
      assert.equal(l.evidence_id, id);
      assert.ok(l.uri?.startsWith(`s3://${bucket}/evidence/`));
      assert.match(l.sha256 ?? "", /^[a-f0-9]{64}$/);
      assert.equal(l.verified, true);
      checkRef(l.recorded_by as never, "evidence.stored");
    };

    assert.equal(story.plan_id, planId);
    assert.equal(story.intent?.text, "scale checkout to 3 in staging");
    assert.equal(story.intent?.requested_by.id, "alice");
    checkRef(story.intent?.event, "plan.requested");
    assert.equal(story.planner.prompt[0]?.content, prompt);
    assert.equal(story.planner.prompt[0]?.redacted, true);
    checkEvidence(story.planner.prompt[0], ids.prompt as string);
    assert.equal(story.planner.model_response[0]?.content, answer);
    checkEvidence(story.planner.model_response[0], ids.answer as string);
    assert.equal(story.revisions.length, 1);
    checkRef(story.revisions[0]?.event, "plan.proposed");
    assert.deepEqual(
      story.revisions[0]?.evidence.map((e) => e.evidence_id),
      [ids.prompt, ids.answer],
    );
    assert.equal(story.policy[0]?.decision, "require_approval");
    assert.equal(story.policy[0]?.policy_revision, "policy-rev-42");
    checkRef(story.policy[0]?.event, "policy.decided");
    const grant = story.approvals.find((a) => a.status === "granted");
    assert.equal(grant?.approver, "bob");
    assert.equal(grant?.at, events.get(ids.granted as string)?.occurred_at);
    checkRef(grant?.event, "approval.granted");

    const run = story.executions[0];
    assert.ok(run);
    assert.equal(run.execution_id, execId);
    assert.equal(run.status, "failed");
    checkRef(run.requested, "execution.requested");
    assert.equal(run.tool_calls.length, 2);
    const [call, undo] = run.tool_calls;
    assert.deepEqual(call?.argv, ["kubectl", "scale", "deployment/checkout", "--replicas=3", "-n", "shop"]);
    assert.equal(call?.exit_code, 0);
    checkRef(call?.started, "tool_call.started");
    checkRef(call?.completed, "tool_call.completed");
    checkEvidence(call?.output, ids.output as string);
    checkEvidence(undo?.output, ids.rollbackOutput as string);
    assert.equal(run.verification[0]?.passed, false);
    checkRef(run.verification[0]?.event, "execution.verification_failed");
    checkEvidence(run.verification[0]?.checks[0]?.evidence, ids.verification as string);
    assert.deepEqual(
      run.rollback.map((r) => r.phase),
      ["started", "rolled_back"],
    );
    checkRef(run.rollback[1]?.event, "execution.rolled_back");
    checkRef(run.outcome?.event, "execution.failed");
    assert.equal(story.evidence.length, 5);
    assert.equal(story.timeline.length, events.size);

    // Every audit pointer is the chain's record of that very event.
    const page = await audit.listAuditEvents({ correlation_id: corr, limit: 1000 });
    const bySeq = new Map(page.items.map((r) => [r.seq, r]));
    for (const r of refs) {
      assert.equal(bySeq.get(r.audit?.seq as number)?.event_id, r.event_id);
      assert.equal(bySeq.get(r.audit?.seq as number)?.hash, r.audit?.hash);
    }

    const fromExecution = await audit.explainChange(execId);
    assert.equal(fromExecution?.plan_id, planId);
    assert.equal(fromExecution?.executions[0]?.tool_calls.length, 2);
    assert.equal(await audit.explainChange("no-such-change"), null);
  });

  it("reports an evidence blob altered in the object store", async () => {
    const before = await audit.verifyAudit({ evidence: true });
    assert.equal(before.ok, true);
    assert.equal(before.evidence?.checked, 5);
    const key = `evidence/${execId}/${ids.output}.json`;
    const forged = Buffer.from(toolOutput.replace("scaled", "deleted"));
    await minio.putObject(bucket, key, forged, forged.length);
    const result = await audit.verifyAudit({ evidence: true });
    assert.equal(result.ok, false);
    assert.equal(result.chain.ok, true, "the chain itself is intact");
    assert.equal(result.evidence?.failures.length, 1);
    assert.equal(result.evidence?.failures[0]?.evidence_id, ids.output);
    assert.equal(result.evidence?.failures[0]?.reason, "mismatch");
    const story = await audit.explainChange(execId, { verifyEvidence: true });
    assert.equal(story?.executions[0]?.tool_calls[0]?.output?.verified, false);
  });
});

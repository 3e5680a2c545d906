/**
 * Stage 2 for real: the policy service, at stage 2 with the project's Rego and data, allows a T1
 * scale in staging without approval, and the orchestrator starts the execution by itself (no
 * person, no `:execute`), recorded as started by policy with the decision's revision, once; then
 * the workflow runs kubectl against the local cluster. A decision that needs a person, or a plan
 * that only reads, starts nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { newEvent, type PlanStep } from "../../events/index.ts";
import { executionIdOf } from "../../lib/domain/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { buildPolicyBundle, POLICIES_DIR, resolveOpaBinary } from "../../lib/policy/build.ts";
import { createPolicyService, type PolicyService } from "../../lib/policy/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import {
  connectTemporal,
  connectTestNats,
  kubeGet,
  recordedArgv,
  type TestTemporal,
} from "../../test/support/index.ts";
import { ALICE, createHarness, seededPlan, waitForEnd } from "../../test/support/orchestrator.ts";
import { createPolicyDecider } from "../policy/service.ts";
import { createAutoStarter } from "./auto-start.ts";
import { routeTemporalLogs, workflowBundle } from "./worker.ts";

const catalog = loadCatalog();
const logger = createLogger({ service: "orchestrator-stage2-test", level: "warn", format: "json" });

describe("stage 2: policy starts the low-risk writes it allows", { timeout: 180_000 }, () => {
  let nc: NatsConnection;
  let temporal: TestTemporal;
  let policy: PolicyService;
  let dir: string;

  before(async () => {
    routeTemporalLogs(logger);
    const opa = resolveOpaBinary(process.env);
    assert.ok(opa, "opa is not installed: run scripts/setup");
    dir = mkdtempSync(join(tmpdir(), "wh-stage2-"));
    const bundlePath = join(dir, "bundle.tar.gz");
    await buildPolicyBundle({
      opa,
      sources: [join(POLICIES_DIR, "authz.rego"), join(POLICIES_DIR, "data.json")],
      outPath: bundlePath,
    });
    policy = await createPolicyService({ bundlePath, stage: 2, timeoutMs: 5_000, logger, watch: false });
    nc = await connectTestNats();
    temporal = await connectTemporal();
    await workflowBundle();
  });
  after(async () => {
    await policy.close();
    await temporal.close();
    await nc.drain();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a T1 scale in staging runs without a person, recorded as started by policy, once", async () => {
    const h = await createHarness({ nc, temporal, catalog, logger });
    const decider = createPolicyDecider({
      store: h.store,
      policy,
      catalog,
      logger,
      // The service graph's facts for the scale: the Deployment runs 2 replicas.
      lookupContext: async (steps: readonly PlanStep[]) => steps.map(() => ({ current_replicas: 2, blast_radius: 1 })),
    });
    const autoStarter = createAutoStarter({ store: h.store, logger });
    try {
      await h.startWorker();
      await h.startStarter();
      await decider.start();
      await autoStarter.start();
      const planId = `plan-${h.taskQueue}`;
      const meta = { actor: ALICE, correlation_id: planId };
      await h.store.append([
        newEvent("plan.requested", planId, { plan_id: planId, intent: "scale checkout to 4", source: "api" }, meta),
      ]);
      await h.store.append([
        newEvent(
          "plan.proposed",
          planId,
          {
            plan_id: planId,
            revision: 1,
            summary: "scale checkout",
            steps: [h.scaleStep],
            planner: { kind: "template" },
          },
          { actor: { kind: "service", id: "planner", roles: [] }, correlation_id: planId },
        ),
      ]);

      const executionId = executionIdOf(planId, 1);
      const events = await waitForEnd(h.store, executionId, 90_000);
      const decided = (await h.store.readAggregate("plan", planId)).find((e) => e.type === "policy.decided");
      assert.ok(decided?.type === "policy.decided");
      assert.equal(decided.payload.decision, "allow", decided.payload.reasons.join("; "));
      assert.match(decided.payload.reasons.join("; "), /T1 write in staging runs automatically at stage 2/);

      const requested = events.filter((e) => e.type === "execution.requested");
      assert.equal(requested.length, 1);
      const started = requested[0];
      assert.ok(started?.type === "execution.requested");
      assert.deepEqual(started.payload.started_by, {
        kind: "policy",
        decision_revision: decided.payload.policy_revision,
      });
      assert.equal(started.actor.id, "orchestrator");
      assert.equal(started.causation_id, decided.id);
      assert.equal(events.at(-1)?.type, "execution.succeeded", JSON.stringify(events.at(-1)?.payload));
      assert.equal(
        (await kubeGet<{ spec: { replicas: number } }>("deployment/checkout", `--namespace=${h.namespace}`))?.spec
          .replicas,
        4,
      );
      assert.equal(recordedArgv(h.argvLog).filter((a) => a[1] === "scale").length, 1);
      // Nobody had to approve: the plan has no approval events, and its write was authorised on the plan.
      const planEvents = await h.store.readAggregate("plan", planId);
      assert.deepEqual(
        planEvents.filter((e) => e.type.startsWith("approval.")),
        [],
      );
      assert.equal(planEvents.filter((e) => e.type === "plan.write_authorized").length, 1);

      // The decision delivered again (a redelivery, a second replica) starts nothing more.
      assert.equal(await autoStarter.startFor(decided), "already");
      assert.equal(
        (await h.store.readAggregate("execution", executionId)).filter((e) => e.type === "execution.requested").length,
        1,
      );
    } finally {
      await autoStarter.stop();
      await decider.stop();
      await h.close();
    }
  });

  it("a decision that needs a person, or a plan that only reads, starts nothing", async () => {
    const h = await createHarness({ nc, temporal, catalog, logger });
    const autoStarter = createAutoStarter({ store: h.store, logger });
    try {
      const needsApproval = seededPlan({ steps: [h.scaleStep], approvals: [] });
      await h.store.append(needsApproval.events);
      const decided = (await h.store.readAggregate("plan", needsApproval.planId)).find(
        (e) => e.type === "policy.decided",
      );
      assert.ok(decided?.type === "policy.decided");
      assert.equal(await autoStarter.startFor(decided), "not_automatic");
      const readOnly = { ...decided, payload: { ...decided.payload, decision: "allow" as const, tier: "T0" as const } };
      assert.equal(await autoStarter.startFor(readOnly), "not_automatic");
      // Allowed, but the plan has moved on to a revision policy has not decided: refused by the decider.
      const allowed = seededPlan({ steps: [h.scaleStep], decision: "allow" });
      await h.store.append(allowed.events);
      await h.store.append([
        newEvent(
          "plan.proposed",
          allowed.planId,
          {
            plan_id: allowed.planId,
            revision: 2,
            summary: "again",
            steps: [h.scaleStep],
            planner: { kind: "template" },
          },
          { actor: { kind: "service", id: "planner", roles: [] }, correlation_id: allowed.planId },
        ),
      ]);
      const stale = (await h.store.readAggregate("plan", allowed.planId)).find((e) => e.type === "policy.decided");
      assert.ok(stale?.type === "policy.decided");
      assert.equal(await autoStarter.startFor(stale), "refused");
      for (const planId of [needsApproval.planId, allowed.planId]) {
        assert.deepEqual(await h.store.readAggregate("execution", executionIdOf(planId, 1)), [], planId);
      }
    } finally {
      await h.close();
    }
  });
});

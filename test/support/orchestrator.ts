/**
 * The orchestrator in process for integration tests (the engine, verification, safety, cancel, stage 2):
 * a fresh event store prefix (or the caller's store), a Kubernetes namespace of the test's own with a
 * Deployment ("checkout" at 2 replicas unless the test names another), the real kubectl behind a
 * wrapper that records each argv, a real tool router (in process, its events and evidence recorded,
 * with a hook to drop an event), a capability key pair, a task queue, and plans seeded as the
 * planner, policy and approvers would have left them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type Actor,
  type AnyEvent,
  type AnyRecordedEvent,
  type EventPayload,
  newEvent,
  type PlanStep,
} from "../../events/index.ts";
import { planRevisionDigest } from "../../lib/domain/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { createEvidenceStore, type EvidenceStore } from "../../lib/evidence/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import {
  type Catalog,
  createCapabilityMinter,
  createCapabilityVerifier,
  findExecutable,
  generateCapabilityKeys,
} from "../../lib/tools/index.ts";
import { type ActivityDeps, createActivities } from "../../services/orchestrator/activities.ts";
import { createExecutionStarter, type ExecutionStarter } from "../../services/orchestrator/starter.ts";
import { createToolClient, type ToolClient } from "../../services/orchestrator/tool-client.ts";
import { type ExecutionWorker, startExecutionWorker } from "../../services/orchestrator/worker.ts";
import { createToolRouterTransport } from "../../services/tool-router/http.ts";
import { createToolCallRecorder } from "../../services/tool-router/recorder.ts";
import { createToolRouter, type ToolRouterEvent } from "../../services/tool-router/router.ts";
import { createSandboxProcessRunner } from "../../services/tool-router/spawn.ts";
import { clusterToolPath, createTestDeployment, createTestNamespace, recordingBin, testCluster } from "./cluster.ts";
import { uniqueName } from "./names.ts";
import { createTestEventStore } from "./nats.ts";
import type { TestTemporal } from "./temporal.ts";
import { waitFor } from "./wait.ts";

export const ALICE: Actor = { kind: "user", id: "alice", roles: ["operator"] };
export const BOB: Actor = { kind: "user", id: "bob", roles: ["approver"] };
export const CAROL: Actor = { kind: "user", id: "carol", roles: ["approver"] };
const POLICY: Actor = { kind: "service", id: "policy", roles: [] };

/** How long the harness's executions keep verifying before the verdict (the starter's verification timeout). */
export const VERIFICATION_TIMEOUT_MS = 4000;

export interface HarnessOptions {
  /** The NATS connection of the harness's own store; absent: the store opens and closes one of its own. */
  readonly nc?: NatsConnection | undefined;
  readonly temporal: TestTemporal;
  readonly catalog: Catalog;
  readonly logger: Logger;
  /** The store to run on (a test gateway's); default a fresh prefix of the harness's own. */
  readonly store?: EventStore | undefined;
  /** The tool router's events pass through this first; false drops one (a router that died before reporting). */
  readonly keepRouterEvent?: ((event: ToolRouterEvent) => boolean) | undefined;
  /** Names the store prefix, namespace, task queue and work directory (lowercase letters); default "safety". */
  readonly label?: string | undefined;
  /** The Deployment the test's namespace starts with; default "checkout" at 2 replicas. */
  readonly deployment?: { readonly name: string; readonly replicas: number } | undefined;
}

/** What a worker's activities are made with, beyond the harness's own store, router and key. */
export interface HarnessActivityOptions {
  readonly tools?: ToolClient | undefined;
  readonly store?: EventStore | undefined;
  readonly now?: ActivityDeps["now"];
  readonly toolTimeoutMs?: number | undefined;
  /** The integration activities' clients (Grafana, PagerDuty, Linear, GitHub); absent: not registered. */
  readonly integrations?: ActivityDeps["integrations"];
  /** Verification's Prometheus and Tempo queries, their evidence in the harness's store; absent: not registered. */
  readonly measuring?: { readonly prometheusUrl?: string | undefined; readonly tempoUrl?: string | undefined };
}

export interface Harness {
  readonly store: EventStore;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly argvLog: string;
  readonly tools: ToolClient;
  /** Where the tool router and the measurements keep evidence. */
  readonly evidence: EvidenceStore;
  /** A scale of the test's Deployment to 4 replicas (rollback: back to where it started); no verification read. */
  readonly scaleStep: PlanStep;
  /** The activities as a worker gets them, to call one directly (outside a workflow). */
  activities(options?: HarnessActivityOptions): ReturnType<typeof createActivities>;
  /** `shutdownGraceMs`: how long a stopping worker lets running activities finish; default 100. */
  startWorker(options?: HarnessActivityOptions & { readonly shutdownGraceMs?: number }): Promise<ExecutionWorker>;
  /** `integrations`: the workers register the integration activities, so executions notify. */
  startStarter(options?: { integrations?: boolean }): Promise<ExecutionStarter>;
  close(): Promise<void>;
}

export async function createHarness(options: HarnessOptions): Promise<Harness> {
  const { nc, temporal, catalog, logger } = options;
  const label = options.label ?? "safety";
  const own = options.store ? null : await createTestEventStore(`orch_${label}`, { nc, logger });
  const store = options.store ?? (own as NonNullable<typeof own>).store;
  const dir = await mkdtemp(join(tmpdir(), `wh-orch-${label}-`));
  const argvLog = join(dir, "argv.log");
  const ns = await createTestNamespace(`wh-${label}`);
  const initial = options.deployment ?? { name: "checkout", replicas: 2 };
  await createTestDeployment(ns.name, initial.name, { replicas: initial.replicas });
  const toolPath = clusterToolPath(await recordingBin(dir, argvLog));
  const env = {
    PATH: toolPath,
    HOME: dir,
    KUBECONFIG: testCluster.kubeconfig,
    WHEELHOUSE_TOOLS__ENV_ALLOW: "[PATH, HOME, KUBECONFIG]",
  };
  const evidence = createEvidenceStore({
    kind: "local",
    path: join(dir, "evidence"),
    endpoint: "http://127.0.0.1:9322",
    bucket: "unused",
    region: "us-east-1",
    access_key: "env:WH_UNUSED_ACCESS_KEY",
    secret_key: "env:WH_UNUSED_SECRET_KEY",
    retention_days: 0,
  });
  const recorder = createToolCallRecorder({ store, evidence, logger });
  const router = createToolRouter({
    catalog,
    runInSandbox: createSandboxProcessRunner({ env }),
    isInstalled: async (binary) => (await findExecutable(binary, toolPath)) !== null,
    ...recorder,
    onEvent: async (event) => {
      if (options.keepRouterEvent?.(event) === false) return;
      await recorder.onEvent(event);
    },
  });
  const keys = generateCapabilityKeys();
  const transport = createToolRouterTransport({
    router,
    capabilities: createCapabilityVerifier({ verifyKey: keys.verifyKey }),
  });
  const url = await transport.start({ host: "127.0.0.1", port: 0 });
  const tools = createToolClient({ url });
  const taskQueue = uniqueName(`orch-${label}`);
  const workers: ExecutionWorker[] = [];
  const starters: ExecutionStarter[] = [];
  const deployment = { kind: "deployment", name: initial.name, namespace: ns.name };
  const activities = (o: HarnessActivityOptions = {}) =>
    createActivities({
      store: o.store ?? store,
      tools: o.tools ?? tools,
      catalog,
      logger,
      heartbeatMs: 500,
      capabilities: createCapabilityMinter({ signingKey: keys.signingKey }),
      toolTimeoutMs: o.toolTimeoutMs ?? 30_000,
      now: o.now,
      integrations: o.integrations,
      measuring: o.measuring && { evidence, ...o.measuring },
    });
  return {
    store,
    namespace: ns.name,
    taskQueue,
    argvLog,
    tools,
    evidence,
    scaleStep: {
      step_id: "s1",
      action_id: "kubectl.scale",
      input: { ...deployment, replicas: 4 },
      target: { environment: "staging", service: initial.name, namespace: ns.name },
      rationale: "more capacity for the sale",
      rollback: { action_id: "kubectl.scale", input: { ...deployment, replicas: initial.replicas } },
    },
    activities,
    async startWorker(o = {}) {
      const worker = await startExecutionWorker({
        connection: temporal.workerConnection,
        namespace: "default",
        taskQueue,
        logger,
        shutdownGraceMs: o.shutdownGraceMs ?? 100,
        activities: activities(o),
      });
      workers.push(worker);
      return worker;
    },
    async startStarter(o = {}) {
      const starter = createExecutionStarter({
        store,
        client: temporal.client,
        taskQueue,
        logger,
        verificationTimeoutMs: VERIFICATION_TIMEOUT_MS,
        toolTimeoutMs: 30_000,
        backoffMs: [200],
        integrations: o.integrations,
      });
      await starter.start();
      starters.push(starter);
      return starter;
    },
    async close() {
      for (const s of starters) await s.stop();
      for (const w of workers) await w.stop();
      await transport.stop();
      await own?.teardown();
      await ns.teardown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SeedOptions {
  readonly steps: readonly PlanStep[];
  /** Policy's decision: `require_approval` (default, T2) or `allow` (a T1 write at stage 2). */
  readonly decision?: "require_approval" | "allow";
  /** Grants, for `approvedDigest`; default bob's (none when policy allows). */
  readonly approvals?: readonly Actor[];
  /** Denials (withdrawn approvals) after the grants, for the steps' digest. */
  readonly denials?: readonly Actor[];
  /** The digest the grants name; default the steps' (another: approvals of an older revision). */
  readonly approvedDigest?: string;
  /** Steps policy wants dry-run before their write (`constraints.dry_run_first`). */
  readonly dryRunFirst?: readonly string[];
  readonly requester?: Actor;
  /** Where the request came from (`plan.requested`'s source); default "api". An alert's is an incident remediation. */
  readonly source?: EventPayload<"plan.requested">["source"];
}

/** The events of a plan as the planner, policy and approvals would have left it. */
export function seededPlan(options: SeedOptions): { planId: string; events: AnyEvent[]; decided: AnyEvent } {
  const planId = uniqueName("plan");
  const meta = (actor: Actor) => ({ actor, correlation_id: planId });
  const decision = options.decision ?? "require_approval";
  const tier = decision === "allow" ? ("T1" as const) : ("T2" as const);
  const constraints: Record<string, { dry_run_first: boolean }> = Object.fromEntries(
    (options.dryRunFirst ?? []).map((stepId) => [stepId, { dry_run_first: true }]),
  );
  const payload: EventPayload<"policy.decided"> = {
    plan_id: planId,
    revision: 1,
    decision,
    tier,
    reasons: [decision === "allow" ? "T1 write in staging runs automatically at stage 2" : "writes need one approval"],
    approvers_required: decision === "allow" ? 0 : 1,
    constraints: { steps: constraints },
    ttl_seconds: 3600,
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    policy_revision: "test-policy+stage.2",
    steps: options.steps.map((s) => ({
      step_id: s.step_id,
      decision,
      tier,
      reasons: [],
      approvers_required: decision === "allow" ? 0 : 1,
      constraints: constraints[s.step_id] ?? {},
    })),
  };
  const decided = newEvent("policy.decided", planId, payload, meta(POLICY));
  const events: AnyEvent[] = [
    newEvent(
      "plan.requested",
      planId,
      { plan_id: planId, intent: "scale checkout to 4", source: options.source ?? "api" },
      meta(options.requester ?? ALICE),
    ),
    newEvent(
      "plan.proposed",
      planId,
      {
        plan_id: planId,
        revision: 1,
        summary: "scale checkout",
        steps: [...options.steps],
        planner: { kind: "template" },
      },
      meta(POLICY),
    ),
    decided,
  ];
  const digest = planRevisionDigest(options.steps);
  for (const approver of options.approvals ?? (decision === "allow" ? [] : [BOB])) {
    events.push(approvalEvent("approval.granted", planId, approver, options.approvedDigest ?? digest));
  }
  for (const denier of options.denials ?? []) events.push(approvalEvent("approval.denied", planId, denier, digest));
  return { planId, events, decided };
}

/** Appends a seeded plan (`seededPlan`) to `store`; answers its id. */
export async function seedPlan(store: EventStore, options: SeedOptions): Promise<string> {
  const { planId, events } = seededPlan(options);
  await store.append(events);
  return planId;
}

/** A grant or a denial of revision 1, for the digest given. */
export function approvalEvent(
  type: "approval.granted" | "approval.denied",
  planId: string,
  approver: Actor,
  digest: string,
): AnyEvent {
  const base = {
    plan_id: planId,
    revision: 1,
    approval_id: `ap-${planId}`,
    approver: approver.id,
    channel: "api" as const,
    digest,
  };
  const meta = { actor: approver, correlation_id: planId };
  return type === "approval.granted"
    ? newEvent(type, planId, base, meta)
    : newEvent(type, planId, { ...base, reason: "withdrawn: not during the freeze" }, meta);
}

/** `execution.requested` for revision 1 of `planId`, as the gateway records it for `by`. */
export function executionRequested(planId: string, by: Actor = ALICE) {
  const executionId = uniqueName("ex");
  const event = newEvent(
    "execution.requested",
    executionId,
    { execution_id: executionId, plan_id: planId, revision: 1 },
    { actor: by, correlation_id: planId },
  );
  return { executionId, event };
}

const FINAL = new Set(["execution.succeeded", "execution.failed", "execution.cancelled"]);

/** The execution's events once it has ended (succeeded, failed or cancelled). */
export function waitForEnd(store: EventStore, executionId: string, timeoutMs = 60_000): Promise<AnyRecordedEvent[]> {
  return waitFor(
    `execution ${executionId} to end`,
    async () => {
      const events = await store.readAggregate("execution", executionId);
      return events.some((e) => FINAL.has(e.type)) ? events : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

export const typesOf = (events: readonly AnyRecordedEvent[], prefix: string) =>
  events.filter((e) => e.type.startsWith(prefix)).map((e) => e.type);

/**
 * The execution workflows' activities: the only place an execution touches
 * the world. Each key is an activity type with its own row in the
 * retry-policy table (workflows/retry-policies.ts). Built by
 * `createActivities(deps)` so that tests hand in a real event store and a
 * real tool router client without module mocking.
 *
 * Business rejections (a withdrawn approval, an unknown plan revision, a tool
 * call the router refuses) are thrown as non-retryable `ApplicationFailure`s;
 * anything else (NATS or the router away) is retried by Temporal.
 *
 * Every tool call carries a capability (lib/tools/capability.ts) that
 * `runTool` mints only after its checks passed: the call is the step, dry
 * run, verification or rollback the plan revision names, with the same
 * action and input, and for a write the approval still holds at this moment
 * (activities/approval.ts). The tool router runs nothing without one.
 *
 * Every append carries an idempotency key made of the execution id, the step
 * and the event type, and a deterministic event id derived from it: a retried
 * activity finds its event already there and appends nothing
 * (activities/record-event.ts).
 */
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { EvidenceStore } from "../../lib/evidence/index.ts";
import type { IntegrationClients } from "../../lib/integrations/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type {
  ApprovalCheckInput,
  CoreActivities as CoreActivityTypes,
  PlannedStep,
  PlanRevisionRef,
  RecordEventInput,
  RunToolInput,
  ToolRunSummary,
} from "../../lib/orchestration/activities.ts";
import type { CapabilityMinter, Catalog } from "../../lib/tools/index.ts";
import { checkApproval } from "./activities/approval.ts";
import { createIntegrationActivities } from "./activities/integrations/index.ts";
import { plannedSteps } from "./activities/plan.ts";
import { createPrometheusActivities, type PrometheusActivities } from "./activities/prometheus.ts";
import { recordEvent } from "./activities/record-event.ts";
import { createTempoActivities, type TempoActivities } from "./activities/tempo.ts";
import { createToolActivities, type ToolActivities } from "./activities/tool-activities.ts";
import { runTool } from "./activities/tool-call.ts";
import type { ToolClient } from "./tool-client.ts";

export type {
  ApprovalCheckInput,
  ExecutionEventDraft,
  ExecutionEventType,
  PlannedStep,
  RecordEventInput,
  RunToolInput,
  ToolRunSummary,
} from "../../lib/orchestration/activities.ts";
export { ORCHESTRATOR_ACTOR } from "./activities/approval.ts";

/** How much longer than the tool's timeout a capability lives (clock differences, a slow hop to the router). */
const CAPABILITY_MARGIN_MS = 30_000;

export interface ActivityDeps {
  readonly store: EventStore;
  readonly tools: ToolClient;
  readonly catalog: Catalog;
  readonly logger: Logger;
  /** Signs the capability each tool call carries (the orchestrator's key; the router holds the public half). */
  readonly capabilities: CapabilityMinter;
  /** The tool router's timeout for one call; a capability lives this long plus a margin. Default 120 s. */
  readonly toolTimeoutMs?: number | undefined;
  readonly now?: (() => Date) | undefined;
  /** How often a running tool call heartbeats; default 5 s. */
  readonly heartbeatMs?: number | undefined;
  /**
   * Verification's queries (`QueryPrometheusActivity`, `QueryTempoActivity`), each answer stored as
   * evidence; a URL left unset answers "not configured". Absent: the two are not registered.
   */
  readonly measuring?:
    | {
        readonly evidence: EvidenceStore;
        readonly prometheusUrl?: string | undefined;
        readonly tempoUrl?: string | undefined;
      }
    | undefined;
  /**
   * The clients of the integration activities (Grafana, PagerDuty, Linear, GitHub), a null one answering
   * null fields. Absent: the four are not registered, and executions notify nothing.
   */
  readonly integrations?:
    | { readonly clients: IntegrationClients; readonly planUrl?: ((planId: string) => string) | undefined }
    | undefined;
}

/** Every activity type a worker may register: the plumbing and tool calls always, the rest as configured. */
export type Activities = CoreActivities &
  PrometheusActivities &
  TempoActivities &
  ReturnType<typeof createIntegrationActivities>;

/** The activities for a worker: the plumbing and tool calls, verification's queries and the integrations when given. */
export function createActivities(deps: ActivityDeps): CoreActivities & Partial<Activities> {
  const now = deps.now ?? (() => new Date());
  const measuring = deps.measuring && { store: deps.store, evidence: deps.measuring.evidence, now };
  return {
    ...coreActivities(deps),
    ...(measuring && {
      ...createPrometheusActivities({ ...measuring, url: deps.measuring?.prometheusUrl }),
      ...createTempoActivities({ ...measuring, url: deps.measuring?.tempoUrl }),
    }),
    ...(deps.integrations &&
      createIntegrationActivities({ store: deps.store, logger: deps.logger, now, ...deps.integrations })),
  };
}

/** Executions notify when the worker registers the integration activities and Grafana, PagerDuty or Linear is on. */
export function notifies(deps: ActivityDeps): boolean {
  const clients = deps.integrations?.clients;
  return clients !== undefined && (clients.grafana !== null || clients.pagerduty !== null || clients.linear !== null);
}

type CoreActivities = ReturnType<typeof coreActivities>;

/** The plumbing and the named tool activities, as the workflows type them (lib/orchestration/activities.ts). */
function coreActivities(deps: ActivityDeps): CoreActivityTypes & ToolActivities {
  const resolved = {
    ...deps,
    now: deps.now ?? (() => new Date()),
    heartbeatMs: deps.heartbeatMs ?? 5000,
    capabilityTtlMs: (deps.toolTimeoutMs ?? 120_000) + CAPABILITY_MARGIN_MS,
  };
  return {
    /** The steps of one plan revision, with catalog kind and policy constraints; non-retryable if missing. */
    async loadPlan(input: PlanRevisionRef): Promise<PlannedStep[]> {
      return plannedSteps(await deps.store.readAggregate("plan", input.plan_id), input, deps.catalog);
    },

    /** Re-checks, at this moment, that the plan revision may still run; throws `ApprovalRefused` if not. */
    checkApproval: (input: ApprovalCheckInput): Promise<void> => checkApproval(resolved, input),

    /** One call through the tool router; a retried attempt reuses the recorded result instead of calling twice. */
    runTool: (input: RunToolInput): Promise<ToolRunSummary> => runTool(resolved, input),

    /** Appends one execution event, exactly once per execution, step and type; its text redacted. */
    recordEvent: (input: RecordEventInput): Promise<{ seq: number; duplicate: boolean }> =>
      recordEvent(resolved, input),

    /** `runTool` under the name of the one catalog action each runs (ArgoSyncActivity: argocd.app_sync, …). */
    ...createToolActivities(resolved),
  };
}

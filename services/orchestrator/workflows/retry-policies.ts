/**
 * Every activity type's retry policy and timeouts, in one table: the
 * workflows build each activity's proxy from its row (run.ts), the docs show
 * it (docs/architecture.md, Orchestrator), and a unit test keeps it covering
 * every activity the worker registers. Read it; don't restate a policy
 * elsewhere. Workflow code: no Node built-ins.
 *
 * The shape of the table follows what each activity does when it fails:
 * - appends and reads of our own store (`loadPlan`, `checkApproval`, `recordEvent`) must land, so they
 *   retry without a limit on a capped backoff (NATS in an election is not a reason to fail a change).
 *   They run as local activities (in the workflow's own task, recorded as a marker, no round trip to the
 *   server and no task queue between them and the workflow): they are short, idempotent by their keys, and
 *   five of them come before the first tool call. Histories from before that still replay (`patched`, run.ts);
 * - tool calls are exactly once (a retried attempt reuses the result the router recorded), heartbeat while
 *   the CLI runs, and get a bounded number of attempts; writes fewer and slower than reads;
 * - queries of Prometheus and Tempo are cheap and re-asked by verification anyway: few, quick attempts;
 * - integrations (Grafana, PagerDuty, Linear, Git) never fail an execution: a bounded number of attempts,
 *   after which the engine records the failure and goes on.
 */
import type { ActivityOptions } from "@temporalio/workflow";
import { NON_RETRYABLE_TYPES } from "../../../lib/orchestration/workflow.ts";

/** A duration as the table writes it (and Temporal reads it). */
export type Duration = `${number}${"ms" | "s" | "m"}`;

export interface ActivityPolicy {
  readonly initialInterval: Duration;
  readonly backoffCoefficient: number;
  readonly maximumInterval: Duration;
  /** `Infinity`: no limit (until it lands, or its workflow ends). */
  readonly maximumAttempts: number;
  readonly nonRetryableErrorTypes: readonly string[];
  /** One attempt's bound; `tool+…` is the tool router's timeout (`tool_timeout_ms`) plus that margin. */
  readonly startToCloseTimeout: Duration | { readonly toolTimeoutPlus: Duration };
  /** How long an attempt may go without a heartbeat before it counts as lost; null: it does not heartbeat. */
  readonly heartbeatTimeout: Duration | null;
  /**
   * `local`: run in the worker that runs the workflow, inside its workflow task (a marker in the history),
   * for short idempotent work that never heartbeats; `queued`: scheduled on the task queue like any activity.
   */
  readonly runs: "local" | "queued";
}

const NEVER_RETRIED = [...NON_RETRYABLE_TYPES];

const store: ActivityPolicy = {
  initialInterval: "200ms",
  backoffCoefficient: 2,
  maximumInterval: "30s",
  maximumAttempts: Number.POSITIVE_INFINITY,
  nonRetryableErrorTypes: NEVER_RETRIED,
  startToCloseTimeout: "30s",
  heartbeatTimeout: null,
  runs: "local",
};

const toolRead: ActivityPolicy = {
  initialInterval: "1s",
  backoffCoefficient: 2,
  maximumInterval: "30s",
  maximumAttempts: 5,
  nonRetryableErrorTypes: NEVER_RETRIED,
  startToCloseTimeout: { toolTimeoutPlus: "60s" },
  heartbeatTimeout: "30s",
  runs: "queued",
};

/** A write's retry reuses the recorded call; fewer, slower attempts leave the router time to come back. */
const toolWrite: ActivityPolicy = { ...toolRead, initialInterval: "2s", maximumAttempts: 3 };

const query: ActivityPolicy = {
  initialInterval: "500ms",
  backoffCoefficient: 2,
  maximumInterval: "5s",
  maximumAttempts: 3,
  nonRetryableErrorTypes: NEVER_RETRIED,
  startToCloseTimeout: "30s",
  heartbeatTimeout: null,
  runs: "queued",
};

const integration: ActivityPolicy = {
  initialInterval: "1s",
  backoffCoefficient: 2,
  maximumInterval: "20s",
  maximumAttempts: 5,
  // A provider's refusal (bad input or credentials) is not changed by asking again.
  nonRetryableErrorTypes: [...NEVER_RETRIED, "IntegrationRejected"],
  startToCloseTimeout: "30s",
  heartbeatTimeout: null,
  runs: "queued",
};

/** One row per activity type the workflows schedule (keys of `createActivities`). */
export const RETRY_POLICIES = {
  loadPlan: store,
  checkApproval: store,
  recordEvent: store,
  runTool: toolRead,
  ArgoSyncActivity: toolWrite,
  ArgoWaitActivity: toolRead,
  HelmStatusActivity: toolRead,
  HelmUpgradeActivity: toolWrite,
  HelmRollbackActivity: toolWrite,
  KubectlScaleActivity: toolWrite,
  KubectlRolloutStatusActivity: toolRead,
  QueryPrometheusActivity: query,
  QueryTempoActivity: query,
  CreateGrafanaAnnotationActivity: integration,
  CreatePagerDutyIncidentActivity: integration,
  CreateLinearIssueActivity: integration,
  CreateGitPullRequestActivity: integration,
} as const satisfies Record<string, ActivityPolicy>;

export type ActivityType = keyof typeof RETRY_POLICIES;

/** The row as Temporal's activity options, for a run whose tool calls may take `toolTimeoutMs`. */
export function activityOptions(policy: ActivityPolicy, toolTimeoutMs: number): ActivityOptions {
  const timeout = policy.startToCloseTimeout;
  return {
    startToCloseTimeout: typeof timeout === "object" ? toolTimeoutMs + durationMs(timeout.toolTimeoutPlus) : timeout,
    ...(policy.heartbeatTimeout === null ? {} : { heartbeatTimeout: policy.heartbeatTimeout }),
    retry: {
      initialInterval: policy.initialInterval,
      backoffCoefficient: policy.backoffCoefficient,
      maximumInterval: policy.maximumInterval,
      maximumAttempts: policy.maximumAttempts,
      nonRetryableErrorTypes: [...policy.nonRetryableErrorTypes],
    },
  };
}

/** A table duration in milliseconds. */
export function durationMs(d: Duration): number {
  const unit = d.endsWith("ms") ? "ms" : d.endsWith("m") ? "m" : "s";
  return Number.parseFloat(d) * { ms: 1, s: 1000, m: 60_000 }[unit];
}

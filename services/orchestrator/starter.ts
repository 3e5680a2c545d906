/**
 * Turns `execution.requested` into a Temporal workflow run, exactly once:
 * the workflow id is the execution id, a running one is reused
 * (`USE_EXISTING`) and a closed one is never started again
 * (`REJECT_DUPLICATE`), so a redelivered event or a second orchestrator
 * replica finds the execution already started and acknowledges. Before
 * that, the execution's own events are read: one that has recorded
 * `execution.started` ran already and is never started again, even once
 * Temporal has forgotten the run (past its retention) and a recreated
 * consumer delivers the stream from its start. The workflow type is the
 * one `execution.requested` carries (the plan's decision, lib/domain/
 * workflow-kind.ts), read from the plan for requests recorded before it
 * did, and started by name.
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from "@temporalio/client";
import type { AnyRecordedEvent, WorkflowType } from "../../events/index.ts";
import { workflowKindOf } from "../../lib/domain/index.ts";
import type { Consumption, EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type { ExecutePlanInput } from "../../lib/orchestration/workflow.ts";

export interface ExecutionStarterDeps {
  readonly store: EventStore;
  readonly client: Client;
  readonly taskQueue: string;
  readonly logger: Logger;
  readonly verificationTimeoutMs: number;
  readonly toolTimeoutMs: number;
  /** The workers register the integration activities (Grafana, PagerDuty, Linear): executions notify. */
  readonly integrations?: boolean | undefined;
  /** Durable consumer name; default `orchestrator`. */
  readonly durable?: string | undefined;
  /** Redelivery backoff when Temporal cannot be reached; the event store's default otherwise. */
  readonly backoffMs?: readonly number[] | undefined;
  /**
   * Ask the server to hand the run's first workflow task straight back to this process's worker (eager
   * workflow start), skipping matching and the worker's next poll. Needs `client` on the worker's
   * NativeConnection; the server falls back to a normal start when the worker has no free slot.
   */
  readonly eagerStart?: boolean | undefined;
}

export interface ExecutionStarter {
  /**
   * Starts the workflow for one `execution.requested`, or finds it: `running` when a run with this
   * execution id is running (just started, or started by an earlier delivery), `finished` when it
   * has already ended. Both count as success: the event is acknowledged.
   */
  startExecution(event: Extract<AnyRecordedEvent, { type: "execution.requested" }>): Promise<"running" | "finished">;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createExecutionStarter(deps: ExecutionStarterDeps): ExecutionStarter {
  const { store, client, taskQueue, logger } = deps;
  let consumption: Consumption | null = null;

  async function startExecution(
    event: Extract<AnyRecordedEvent, { type: "execution.requested" }>,
  ): Promise<"running" | "finished"> {
    const p = event.payload;
    const input: ExecutePlanInput = {
      execution_id: p.execution_id,
      plan_id: p.plan_id,
      revision: p.revision,
      dry_run: p.dry_run,
      correlation_id: event.correlation_id,
      causation_id: event.id,
      verification_timeout_ms: deps.verificationTimeoutMs,
      tool_timeout_ms: deps.toolTimeoutMs,
      ...(deps.integrations ? { integrations: true } : {}),
    };
    const [ran, workflowType] = await Promise.all([
      ranAlready(store, p.execution_id),
      p.workflow_type ?? workflowTypeOf(store, p.plan_id, p.revision),
    ]);
    if (ran !== null) {
      logger.info({ execution_id: p.execution_id, recorded: ran }, "execution already ran; nothing to start");
      return ran;
    }
    try {
      const handle = await client.workflow.start(workflowType, {
        workflowId: p.execution_id,
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        ...(deps.eagerStart ? { requestEagerStart: true } : {}),
      });
      // USE_EXISTING answers with the running workflow's handle: started now or by an earlier delivery.
      logger.info(
        {
          execution_id: p.execution_id,
          plan_id: p.plan_id,
          workflow_type: workflowType,
          run_id: handle.firstExecutionRunId,
        },
        "execution running",
      );
      return "running";
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        logger.info({ execution_id: p.execution_id }, "execution already ran; nothing to start");
        return "finished";
      }
      throw error;
    }
  }

  return {
    startExecution,
    async start() {
      consumption = await store.consume({
        durable: deps.durable ?? "orchestrator",
        filterTypes: ["execution.requested"],
        // Starts are independent of each other and idempotent (the workflow id is the execution id):
        // a burst of requests starts its workflows side by side, not one start's round trips after another.
        concurrency: 32,
        ...(deps.backoffMs ? { backoffMs: deps.backoffMs } : {}),
        handler: async (event) => {
          if (event.type === "execution.requested") await startExecution(event);
        },
      });
    },
    async stop() {
      await consumption?.stop();
      consumption = null;
    },
  };
}

/**
 * Whether the execution has run already, from its own events: `finished` once it recorded its end,
 * `running` once it recorded its start, null when it has not started.
 */
async function ranAlready(store: EventStore, executionId: string): Promise<"running" | "finished" | null> {
  let ran: "running" | "finished" | null = null;
  for (const e of await store.readAggregate("execution", executionId)) {
    if (e.type === "execution.started") ran ??= "running";
    else if (e.type === "execution.succeeded" || e.type === "execution.failed" || e.type === "execution.cancelled")
      ran = "finished";
  }
  return ran;
}

/**
 * The workflow type for a plan revision, from its request's source and the revision's steps. A plan
 * or revision not on the stream still gets a type: the workflow's `loadPlan` then fails it with the reason.
 */
async function workflowTypeOf(store: EventStore, planId: string, revision: number): Promise<WorkflowType> {
  let source: string | undefined;
  let steps: readonly { readonly action_id: string }[] = [];
  for (const e of await store.readAggregate("plan", planId)) {
    if (e.type === "plan.requested") source = e.payload.source;
    else if (e.type === "plan.proposed" && e.payload.revision === revision) steps = e.payload.steps;
  }
  return workflowKindOf({ source, steps });
}

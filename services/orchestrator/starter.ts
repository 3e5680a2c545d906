/**
 * Turns `execution.requested` into a Temporal workflow run, exactly once:
 * the workflow id is the execution id, a running one is reused
 * (`USE_EXISTING`) and a closed one is never started again
 * (`REJECT_DUPLICATE`), so a redelivered event or a second orchestrator
 * replica finds the execution already started and acknowledges.
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from "@temporalio/client";
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { Consumption, EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { type ExecutePlanInput, executePlan } from "./workflows/execute-plan.ts";

export interface ExecutionStarterDeps {
  readonly store: EventStore;
  readonly client: Client;
  readonly taskQueue: string;
  readonly logger: Logger;
  readonly verificationTimeoutMs: number;
  readonly toolTimeoutMs: number;
  /** Durable consumer name; default `orchestrator`. */
  readonly durable?: string | undefined;
}

export interface ExecutionStarter {
  /** Starts the workflow for one `execution.requested`; "already started" counts as success. */
  startExecution(
    event: Extract<AnyRecordedEvent, { type: "execution.requested" }>,
  ): Promise<"started" | "already_started">;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createExecutionStarter(deps: ExecutionStarterDeps): ExecutionStarter {
  const { store, client, taskQueue, logger } = deps;
  let consumption: Consumption | null = null;

  async function startExecution(
    event: Extract<AnyRecordedEvent, { type: "execution.requested" }>,
  ): Promise<"started" | "already_started"> {
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
    };
    try {
      const handle = await client.workflow.start(executePlan, {
        workflowId: p.execution_id,
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      logger.info(
        { execution_id: p.execution_id, plan_id: p.plan_id, run_id: handle.firstExecutionRunId },
        "execution started",
      );
      return "started";
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        logger.info({ execution_id: p.execution_id }, "execution already ran; nothing to start");
        return "already_started";
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

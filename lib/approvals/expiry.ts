/**
 * Pending approvals that expire at their TTL, by a durable timer.
 *
 * For every `approval.requested` (appended by the approvals service with its
 * links, or, with `openRequests`, by the timers themselves for each decided
 * revision that needs approval: the plan decider's `RequestApproval`, once
 * per revision, expiring at `approvalDeadline`), `createApprovalTimers`
 * starts one Temporal workflow whose id is derived from plan and revision
 * (`approvalExpiryWorkflowId`), `USE_EXISTING` while it runs and
 * `REJECT_DUPLICATE` after: a redelivered event, a restart or a second
 * replica finds the timer there instead of starting another. The timer lives
 * in Temporal's history, so it fires once whichever worker is up then; its
 * activity appends `approval.expired` through the decider (`ExpireApproval`:
 * nothing if the revision was answered, superseded or expired already) with
 * the idempotency key `approval.expired:<plan>:<revision>`, so it is recorded
 * once even if the activity runs twice.
 *
 * ```ts
 * const timers = await createApprovalTimers({ store, temporal: { connection, client }, taskQueue, logger });
 * await timers.start(); // consumes approval.requested (and policy.decided with openRequests)
 * await timers.stop();
 * ```
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from "@temporalio/client";
import type { NativeConnection } from "@temporalio/worker";
import { type Actor, type AnyRecordedEvent, SYSTEM_ACTOR } from "../../events/index.ts";
import { decide, envelopeDrafts, planDecider } from "../domain/index.ts";
import { type Consumption, type EventStore, handleCommand } from "../eventstore/index.ts";
import type { Logger } from "../log/index.ts";
import type { ApprovalExpiryActivities, ApprovalExpiryInput, ApprovalExpiryOutcome } from "./expiry-contract.ts";

export type { ApprovalExpiryInput, ApprovalExpiryOutcome } from "./expiry-contract.ts";

/** Who records `approval.requested` and `approval.expired`: the approvals timer, not a person. */
export const APPROVAL_TIMER_ACTOR: Actor = { ...SYSTEM_ACTOR, id: "approval-timer" };

/** One timer per plan revision: the workflow id every starter derives, so none can start two. */
export function approvalExpiryWorkflowId(planId: string, revision: number): string {
  return `approval-expiry-${planId}-r${revision}`;
}

/** The pending approval's id for a revision: derived, so every replica requests the same one. */
export function approvalIdFor(planId: string, revision: number): string {
  return `${planId}-r${revision}-approval`;
}

/** The activity: `approval.expired` through the plan decider, recorded at most once per revision. */
export function createApprovalExpiryActivities(deps: {
  readonly store: EventStore;
  readonly now?: () => Date;
}): ApprovalExpiryActivities {
  const now = deps.now ?? (() => new Date());
  return {
    async expireApproval(input: ApprovalExpiryInput): Promise<ApprovalExpiryOutcome> {
      const at = now();
      const { appended } = await handleCommand(
        deps.store,
        planDecider,
        input.plan_id,
        (state) =>
          envelopeDrafts(
            decide(
              {
                type: "ExpireApproval",
                planId: input.plan_id,
                revision: input.revision,
                actor: APPROVAL_TIMER_ACTOR,
                now: at,
              },
              state,
            ),
            input.plan_id,
            { actor: APPROVAL_TIMER_ACTOR, correlation_id: input.correlation_id, occurred_at: at.toISOString() },
          ),
        { idempotencyKey: `approval.expired:${input.plan_id}:${input.revision}` },
      );
      return appended !== null && !appended.duplicate ? "expired" : "not_pending";
    },
  };
}

/**
 * Starts the revision's expiry timer, or finds it: `running` when it is waiting (started now or
 * earlier), `finished` when it has already fired.
 */
export async function startApprovalExpiry(
  client: Client,
  taskQueue: string,
  input: ApprovalExpiryInput,
): Promise<"running" | "finished"> {
  try {
    await client.workflow.start("approvalExpiry", {
      workflowId: approvalExpiryWorkflowId(input.plan_id, input.revision),
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
    return "running";
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return "finished";
    throw error;
  }
}

export interface ApprovalTimersDeps {
  readonly store: EventStore;
  /** The worker's connection (null: start timers but run none here) and the client that starts them. */
  readonly temporal: { readonly connection: NativeConnection | null; readonly client: Client };
  readonly namespace?: string | undefined;
  readonly taskQueue: string;
  readonly logger: Logger;
  /**
   * Also append `approval.requested` for each `policy.decided` that needs approval (default false: the
   * approvals service records it, with its links; both use the idempotency key
   * `approval.requested:<plan>:<revision>`, so the first one wins and the other records nothing).
   */
  readonly openRequests?: boolean | undefined;
  /** Durable consumer name; several processes with one name share the work. Default `approval-timers`. */
  readonly durable?: string | undefined;
  readonly now?: () => Date;
}

export interface ApprovalTimers {
  /** Opens the pending approval of one `policy.decided` (if it needs one) and starts its timer. */
  request(event: Extract<AnyRecordedEvent, { type: "policy.decided" }>): Promise<void>;
  /** Starts the timer of one `approval.requested` (whoever appended it). */
  arm(event: Extract<AnyRecordedEvent, { type: "approval.requested" }>): Promise<"running" | "finished">;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createApprovalTimers(deps: ApprovalTimersDeps): ApprovalTimers {
  const { store, logger, taskQueue } = deps;
  const now = deps.now ?? (() => new Date());
  let consumption: Consumption | null = null;
  let worker: { stop(): Promise<void> } | null = null;

  async function request(event: Extract<AnyRecordedEvent, { type: "policy.decided" }>) {
    const { plan_id: planId, revision, decision } = event.payload;
    if (decision !== "require_approval") return;
    const at = now();
    await handleCommand(
      store,
      planDecider,
      planId,
      (state) => {
        // A newer revision, or a plan that moved on, has nothing of this revision left to request.
        if (state.status !== "decided" || state.revision !== revision) return [];
        const command = {
          type: "RequestApproval" as const,
          planId,
          revision,
          approvalId: approvalIdFor(planId, revision),
          actor: APPROVAL_TIMER_ACTOR,
          now: at,
        };
        return envelopeDrafts(decide(command, state), planId, {
          actor: APPROVAL_TIMER_ACTOR,
          correlation_id: event.correlation_id,
          causation_id: event.id,
          occurred_at: at.toISOString(),
        });
      },
      { idempotencyKey: `approval.requested:${planId}:${revision}` },
    );
  }

  async function arm(event: Extract<AnyRecordedEvent, { type: "approval.requested" }>) {
    const p = event.payload;
    const outcome = await startApprovalExpiry(deps.temporal.client, taskQueue, {
      plan_id: p.plan_id,
      revision: p.revision,
      expires_at: p.expires_at,
      correlation_id: event.correlation_id,
    });
    logger.info({ plan_id: p.plan_id, revision: p.revision, expires_at: p.expires_at, outcome }, "approval timer");
    return outcome;
  }

  return {
    request,
    arm,
    async start() {
      if (deps.temporal.connection) {
        // Loaded here: the worker's native bridge takes seconds, and importers of lib/approvals that run no timers skip it.
        const { startExpiryWorker } = await import("./expiry-worker.ts");
        worker = await startExpiryWorker({
          connection: deps.temporal.connection,
          namespace: deps.namespace ?? "default",
          taskQueue,
          activities: createApprovalExpiryActivities({ store, now }),
          logger,
        });
      }
      consumption = await store.consume({
        durable: deps.durable ?? "approval-timers",
        filterTypes: deps.openRequests ? ["policy.decided", "approval.requested"] : ["approval.requested"],
        handler: async (event) => {
          if (event.type === "policy.decided") await request(event);
          else if (event.type === "approval.requested") await arm(event);
        },
      });
    },
    async stop() {
      await consumption?.stop();
      consumption = null;
      await worker?.stop();
      worker = null;
    },
  };
}

/**
 * The `executePlan` workflow's activities: the only place an execution
 * touches the world. Built by `createActivities(deps)` so that tests hand in
 * a real event store and a real tool router client without module mocking.
 *
 * Business rejections (a withdrawn approval, an unknown plan revision, a tool
 * call the router refuses) are thrown as non-retryable `ApplicationFailure`s;
 * anything else (NATS or the router away) is retried by Temporal.
 *
 * Every append carries an idempotency key made of the execution id, the step
 * and the event type, and a deterministic event id derived from it: a retried
 * activity finds its event already there and appends nothing.
 */
import { ApplicationFailure, Context } from "@temporalio/activity";
import { v5 as uuidv5 } from "uuid";
import {
  type Actor,
  type AnyEvent,
  type AnyRecordedEvent,
  type EventPayload,
  newEvent,
  type PlanStep,
} from "../../events/index.ts";
import { decide, foldPlan } from "../../lib/domain/index.ts";
import { WheelhouseError } from "../../lib/errors/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type { Catalog } from "../../lib/tools/index.ts";
import type { ExecuteToolResult, ToolClient } from "./tool-client.ts";

export const ORCHESTRATOR_ACTOR: Actor = { kind: "service", id: "orchestrator", roles: [] };

/** Namespace for the deterministic event ids (uuid v5 of the idempotency key). */
const EVENT_ID_NAMESPACE = "6f1c3a8e-5b7d-4e21-9c3f-0a4b8d2e7f15";

/** Execution events the workflow records through `recordEvent`. */
export type ExecutionEventType =
  | "execution.started"
  | "execution.step_started"
  | "execution.step_completed"
  | "execution.verified"
  | "execution.verification_failed"
  | "execution.rollback_started"
  | "execution.rolled_back"
  | "execution.succeeded"
  | "execution.failed"
  | "execution.cancelled";

export type ExecutionEventDraft = {
  [K in ExecutionEventType]: { readonly type: K; readonly payload: EventPayload<K> };
}[ExecutionEventType];

export interface RecordEventInput {
  readonly event: ExecutionEventDraft;
  readonly correlation_id: string;
  readonly causation_id: string;
}

/** A plan step as the workflow runs it: the plan's step plus what the catalog and policy say about it. */
export interface PlannedStep {
  readonly step_id: string;
  readonly action_id: string;
  readonly input: Record<string, unknown>;
  /** From the catalog; an action the catalog does not know counts as a write (it needs approval). */
  readonly kind: "read" | "write";
  readonly dry_run_supported: boolean;
  /** Policy asked for a dry run before the write (`constraints.dry_run_first`). */
  readonly dry_run_first: boolean;
  readonly verification?: PlanStep["verification"];
  readonly rollback?: { readonly action_id: string; readonly input: Record<string, unknown> } | null | undefined;
}

export interface ApprovalCheckInput {
  readonly plan_id: string;
  readonly revision: number;
  readonly step_id: string;
  readonly execution_id: string;
}

export interface RunToolInput {
  readonly execution_id: string;
  readonly step_id: string;
  readonly tool_call_id: string;
  readonly action_id: string;
  readonly input: Record<string, unknown>;
  readonly dry_run: boolean;
  /** Verification calls must be read actions; the activity refuses anything else. */
  readonly purpose: "step" | "dry_run" | "verification" | "rollback";
  /** When set, the approval is re-checked right before the call. */
  readonly approval?: ApprovalCheckInput | undefined;
}

/** What the workflow keeps of a tool call (the full output is evidence, recorded by the router). */
export interface ToolRunSummary {
  readonly tool_call_id: string;
  readonly ok: boolean;
  readonly status: "succeeded" | "failed" | "timed_out" | "refused";
  readonly exit_code: number | null;
  /** The end of stderr (on failure) or stdout, at most 500 characters. */
  readonly detail: string;
  readonly evidence_id: string | null;
  /** True when an earlier attempt had already made the call and its recorded result was reused. */
  readonly reused: boolean;
}

export interface ActivityDeps {
  readonly store: EventStore;
  readonly tools: ToolClient;
  readonly catalog: Catalog;
  readonly logger: Logger;
  readonly now?: (() => Date) | undefined;
  /** How often a running tool call heartbeats; default 5 s. */
  readonly heartbeatMs?: number | undefined;
}

export function createActivities(deps: ActivityDeps) {
  const { store, tools, catalog, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const heartbeatMs = deps.heartbeatMs ?? 5000;

  /** Attempt number when running inside an activity; 1 elsewhere. */
  function attempt(): number {
    try {
      return Context.current().info.attempt;
    } catch {
      return 1;
    }
  }

  async function assertApproved(check: ApprovalCheckInput): Promise<void> {
    const history = await store.readAggregate("plan", check.plan_id);
    const state = foldPlan(history);
    try {
      // The same rules that admitted `execution.requested`, applied again now: revision, denial, expiry, count.
      decide(
        {
          type: "RequestExecution",
          planId: check.plan_id,
          revision: check.revision,
          executionId: check.execution_id,
          actor: ORCHESTRATOR_ACTOR,
          now: now(),
        },
        state,
      );
    } catch (error) {
      if (error instanceof WheelhouseError) throw refusal("ApprovalRefused", error);
      throw error;
    }
    if (state.status === "decided") {
      const stepDecision = state.policy.steps.find((s) => s.step_id === check.step_id);
      if (stepDecision?.decision === "deny") {
        throw ApplicationFailure.create({
          type: "ApprovalRefused",
          nonRetryable: true,
          message: `policy denied step ${check.step_id}: ${stepDecision.reasons.join("; ") || "no reason given"}`,
        });
      }
    }
  }

  async function recordedToolCall(executionId: string, toolCallId: string) {
    const events = await store.readAggregate("execution", executionId);
    for (const e of events) {
      if (e.type === "tool_call.completed" && e.payload.tool_call_id === toolCallId) return e;
    }
    return null;
  }

  return {
    /** The steps of one plan revision, with catalog kind and policy constraints; non-retryable if missing. */
    async loadPlan(input: { plan_id: string; revision: number }): Promise<PlannedStep[]> {
      const history = await store.readAggregate("plan", input.plan_id);
      const proposed = lastOf(history, "plan.proposed", input.revision);
      if (!proposed) {
        throw ApplicationFailure.create({
          type: "PlanNotFound",
          nonRetryable: true,
          message: `plan ${input.plan_id} has no revision ${input.revision}`,
        });
      }
      const decided = lastOf(history, "policy.decided", input.revision);
      return proposed.payload.steps.map((step) => {
        const action = catalog.get(step.action_id);
        const stepPolicy = decided?.payload.steps.find((s) => s.step_id === step.step_id)?.constraints;
        const merged = (decided?.payload.constraints.steps as Record<string, Record<string, unknown>> | undefined)?.[
          step.step_id
        ];
        return {
          step_id: step.step_id,
          action_id: step.action_id,
          input: step.input,
          kind: action?.kind === "read" ? "read" : "write",
          dry_run_supported: action?.dry_run === true,
          dry_run_first: (stepPolicy ?? merged)?.dry_run_first === true,
          ...(step.verification ? { verification: step.verification } : {}),
          ...(step.rollback ? { rollback: step.rollback } : {}),
        };
      });
    },

    /** Re-checks, at this moment, that the plan revision may still run; throws `ApprovalRefused` if not. */
    async checkApproval(input: ApprovalCheckInput): Promise<void> {
      await assertApproved(input);
    },

    /** One call through the tool router; a retried attempt reuses the recorded result instead of calling twice. */
    async runTool(input: RunToolInput): Promise<ToolRunSummary> {
      const action = catalog.get(input.action_id);
      if (input.purpose === "verification" && action?.kind !== "read") {
        throw ApplicationFailure.create({
          type: "ToolCallRefused",
          nonRetryable: true,
          message: `verification must use a read action; ${input.action_id} is ${action ? action.kind : "not in the catalog"}`,
        });
      }
      if (attempt() > 1) {
        const earlier = await recordedToolCall(input.execution_id, input.tool_call_id);
        if (earlier && earlier.payload.status !== "refused") {
          logger.info({ tool_call_id: input.tool_call_id }, "tool call already made by an earlier attempt; reusing it");
          return {
            tool_call_id: input.tool_call_id,
            ok: earlier.payload.status === "succeeded",
            status: earlier.payload.status,
            exit_code: earlier.payload.exit_code,
            detail: earlier.payload.error ?? "",
            evidence_id: earlier.payload.evidence_id ?? null,
            reused: true,
          };
        }
      }
      if (input.approval) await assertApproved(input.approval);

      let context: Context | null = null;
      try {
        context = Context.current();
      } catch {
        context = null;
      }
      const beat = context ? setInterval(() => context?.heartbeat(), heartbeatMs) : null;
      let result: ExecuteToolResult;
      try {
        result = await tools.executeTool(
          {
            action_id: input.action_id,
            input: input.input,
            dry_run: input.dry_run,
            execution_id: input.execution_id,
            step_id: input.step_id,
            tool_call_id: input.tool_call_id,
          },
          { signal: context?.cancellationSignal },
        );
      } catch (error) {
        if (error instanceof WheelhouseError && error.status >= 400 && error.status < 500) {
          throw refusal("ToolCallRefused", error);
        }
        throw error;
      } finally {
        if (beat) clearInterval(beat);
      }
      const text = (result.ok ? result.stdout.text : result.stderr.text || result.stdout.text).trim();
      return {
        tool_call_id: result.tool_call_id,
        ok: result.ok,
        status: result.status,
        exit_code: result.exit_code,
        detail: text.length > 500 ? `…${text.slice(-500)}` : text,
        evidence_id: result.evidence?.evidence_id ?? null,
        reused: false,
      };
    },

    /** Appends one execution event, exactly once per execution, step and type. */
    async recordEvent(input: RecordEventInput): Promise<{ seq: number; duplicate: boolean }> {
      const { event } = input;
      const executionId = event.payload.execution_id;
      const step = "step_id" in event.payload && event.payload.step_id ? event.payload.step_id : "-";
      const key = `${executionId}:${step}:${event.type}`;
      const id = uuidv5(key, EVENT_ID_NAMESPACE);
      if (attempt() > 1) {
        // Past the stream's duplicate window the key alone would not catch a retry; the id does.
        const existing = (await store.readAggregate("execution", executionId)).find((e) => e.id === id);
        if (existing) return { seq: existing.seq, duplicate: true };
      }
      let envelope: AnyEvent;
      try {
        // The draft union is checked at the call site; newEvent validates the payload again.
        envelope = newEvent(event.type, executionId, event.payload as never, {
          actor: ORCHESTRATOR_ACTOR,
          correlation_id: input.correlation_id,
          causation_id: input.causation_id,
          occurred_at: now().toISOString(),
          id,
        }) as AnyEvent;
      } catch (error) {
        throw ApplicationFailure.create({
          type: "InvalidEvent",
          nonRetryable: true,
          message: (error as Error).message,
          cause: error as Error,
        });
      }
      const result = await store.append([envelope], { idempotencyKey: key });
      return { seq: result.seqs[0] as number, duplicate: result.duplicate };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

function refusal(type: string, error: WheelhouseError): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    nonRetryable: true,
    message: error.message,
    details: [{ code: error.code, field: error.field ?? null, fix: error.fix ?? null }],
  });
}

function lastOf<T extends "plan.proposed" | "policy.decided">(
  history: readonly AnyRecordedEvent[],
  type: T,
  revision: number,
): Extract<AnyRecordedEvent, { type: T }> | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i] as AnyRecordedEvent;
    if (e.type === type && (e.payload as { revision: number }).revision === revision) {
      return e as Extract<AnyRecordedEvent, { type: T }>;
    }
  }
  return null;
}

/**
 * The `executePlan` workflow's activities: the only place an execution
 * touches the world. Built by `createActivities(deps)` so that tests hand in
 * a real event store and a real tool router client without module mocking.
 *
 * Business rejections (a withdrawn approval, an unknown plan revision, a tool
 * call the router refuses) are thrown as non-retryable `ApplicationFailure`s;
 * anything else (NATS or the router away) is retried by Temporal.
 *
 * Every tool call carries a capability (lib/tools/capability.ts) that
 * `runTool` mints only after its checks passed: the call is the step, dry
 * run, verification or rollback the plan revision names, with the same
 * action and input, and for a write the approval still holds at this moment.
 * The tool router runs nothing without one.
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
import { decide, foldPlan, planRevisionDigest } from "../../lib/domain/index.ts";
import { WheelhouseError } from "../../lib/errors/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { createRedactor } from "../../lib/redact/index.ts";
import { type CapabilityMinter, type Catalog, toolInputSha256 } from "../../lib/tools/index.ts";
import type { ExecuteToolResult } from "../../schemas/rpc/tool-router.ts";
import type { ToolClient } from "./tool-client.ts";

export const ORCHESTRATOR_ACTOR: Actor = { kind: "service", id: "orchestrator", roles: [] };

/** How much longer than the tool's timeout a capability lives (clock differences, a slow hop to the router). */
const CAPABILITY_MARGIN_MS = 30_000;

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
  /**
   * The plan revision the call belongs to: the call must be what that revision names for `step_id` and
   * `purpose`, or no capability is minted. Optional only for inputs recorded before it existed (then
   * `approval` names the revision).
   */
  readonly plan?: { readonly plan_id: string; readonly revision: number } | undefined;
  /** When set, the approval is re-checked right before the call (a write step is re-checked regardless). */
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
  /** Signs the capability each tool call carries (the orchestrator's key; the router holds the public half). */
  readonly capabilities: CapabilityMinter;
  /** The tool router's timeout for one call; a capability lives this long plus a margin. Default 120 s. */
  readonly toolTimeoutMs?: number | undefined;
  readonly now?: (() => Date) | undefined;
  /** How often a running tool call heartbeats; default 5 s. */
  readonly heartbeatMs?: number | undefined;
}

/** Memoryless, as the tool output it quotes: `[REDACTED:kind]`. */
const recordRedactor = createRedactor([], { stable: false });

export function createActivities(deps: ActivityDeps) {
  const { store, tools, catalog, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const heartbeatMs = deps.heartbeatMs ?? 5000;
  const capabilityTtlMs = (deps.toolTimeoutMs ?? 120_000) + CAPABILITY_MARGIN_MS;

  /** Attempt number when running inside an activity; 1 elsewhere. */
  function attempt(): number {
    try {
      return Context.current().info.attempt;
    } catch {
      return 1;
    }
  }

  /** Throws `ApprovalRefused` unless `history` (the plan's events, read just now) still allows the step to run. */
  function assertApproved(check: ApprovalCheckInput, history: readonly AnyRecordedEvent[]): void {
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

  /**
   * Checks the call against the plan revision it claims to belong to and, for a write, against the
   * approval as it stands now; only then signs the capability the tool router asks for.
   */
  async function authorise(input: RunToolInput, kind: "read" | "write"): Promise<string> {
    const plan =
      input.plan ?? (input.approval ? { plan_id: input.approval.plan_id, revision: input.approval.revision } : null);
    if (!plan) throw refused("the call names no plan revision; the orchestrator only runs calls of an approved plan");
    if (input.approval && (input.approval.plan_id !== plan.plan_id || input.approval.revision !== plan.revision)) {
      throw refused("the approval to re-check is for another plan revision than the call");
    }
    const history = await store.readAggregate("plan", plan.plan_id);
    const proposed = lastOf(history, "plan.proposed", plan.revision);
    if (!proposed) {
      throw ApplicationFailure.create({
        type: "PlanNotFound",
        nonRetryable: true,
        message: `plan ${plan.plan_id} has no revision ${plan.revision}`,
      });
    }
    const problem = callInPlan(input, proposed.payload.steps);
    if (problem) throw refused(`${problem} (plan ${plan.plan_id} revision ${plan.revision})`);
    // A write of the plan is re-checked against the approval at this moment, whether or not the workflow asked.
    if (input.approval || (input.purpose === "step" && kind === "write" && !input.dry_run)) {
      assertApproved(
        { plan_id: plan.plan_id, revision: plan.revision, step_id: input.step_id, execution_id: input.execution_id },
        history,
      );
    }
    return deps.capabilities.mint(
      {
        purpose: "execute",
        execution_id: input.execution_id,
        step_id: input.step_id,
        action_id: input.action_id,
        input: input.input,
        tool_call_id: input.tool_call_id,
        dry_run: input.dry_run,
        plan_id: plan.plan_id,
        plan_revision: plan.revision,
        plan_digest: planRevisionDigest(proposed.payload.steps),
      },
      { ttlMs: capabilityTtlMs },
    );
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
      assertApproved(input, await store.readAggregate("plan", input.plan_id));
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
      const capability = await authorise(input, action?.kind === "read" ? "read" : "write");

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
          { capability, signal: context?.cancellationSignal },
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

    /** Appends one execution event, exactly once per execution, step and type; its text redacted. */
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
        // A step's detail and a rollback's reason quote tool output: redacted before they are appended.
        envelope = newEvent(event.type, executionId, recordRedactor.redactValue(event.payload) as never, {
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

function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: "ToolCallRefused", nonRetryable: true, message });
}

/** Why `input` is not the call its plan's step names for its purpose, or null when it is. */
function callInPlan(input: RunToolInput, steps: readonly PlanStep[]): string | null {
  const step = steps.find((s) => s.step_id === input.step_id);
  if (!step) return `the plan revision has no step ${input.step_id}`;
  let expected: { readonly action_id: string; readonly input: Record<string, unknown> } | null;
  switch (input.purpose) {
    case "step":
      expected = step;
      break;
    case "dry_run":
      expected = input.dry_run ? step : null;
      break;
    case "verification":
      expected =
        step.verification?.action_id && !input.dry_run
          ? { action_id: step.verification.action_id, input: step.verification.input ?? {} }
          : null;
      break;
    case "rollback":
      expected = step.rollback && !input.dry_run ? step.rollback : null;
      break;
    default: {
      const unknownPurpose: never = input.purpose;
      return `unknown purpose ${String(unknownPurpose)}`;
    }
  }
  if (!expected) return `step ${step.step_id} names no ${input.purpose} call${input.dry_run ? " to dry-run" : ""}`;
  if (expected.action_id !== input.action_id || toolInputSha256(expected.input) !== toolInputSha256(input.input)) {
    return `${input.action_id} with this input is not step ${step.step_id}'s ${input.purpose} call`;
  }
  return null;
}

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

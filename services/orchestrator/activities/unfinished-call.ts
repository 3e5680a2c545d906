/**
 * A write that started and never reported an end: an earlier attempt's
 * `tool_call.started` is on the execution, its `tool_call.completed` is not
 * (the worker and the router that ran it died, or the router's last append
 * was lost). Running it again could apply the change twice, so it is never
 * run again. The router is given until the call's capability expires (the
 * tool's timeout plus a margin: by then the router has killed the tool and
 * recorded the end, if it is alive); then the target's live state is read
 * through the router (GetResource, with a `read` capability) and the
 * action's effect check (effect-checks.ts) decides:
 *
 * - the state shows the effect: the call is recorded as completed
 *   (`tool_call.completed`, `settled_by_read` naming the read) and the step
 *   goes on;
 * - it does not, the read failed, or the action has no check: the call is
 *   recorded as failed with the reason and the activity refuses, never
 *   retried, saying what started when and why it cannot tell.
 */
import { v5 as uuidv5 } from "uuid";
import { type AnyRecordedEvent, newEvent } from "../../../events/index.ts";
import { WheelhouseError } from "../../../lib/errors/index.ts";
import type { EventStore } from "../../../lib/eventstore/index.ts";
import type { Logger } from "../../../lib/log/index.ts";
import type { RunToolInput, ToolRunSummary } from "../../../lib/orchestration/activities.ts";
import type { GetResourceResult } from "../../../schemas/rpc/tool-router.ts";
import type { ToolClient } from "../tool-client.ts";
import { type AuthoriseDeps, authoriseRead, ORCHESTRATOR_ACTOR } from "./approval.ts";
import { effectCheckFor } from "./effect-checks.ts";
import { activityContext, refused } from "./temporal.ts";

type Recorded<T extends AnyRecordedEvent["type"]> = Extract<AnyRecordedEvent, { type: T }>;

/** Namespace of the ids of the completions recorded here (uuid v5 of their idempotency key). */
const SETTLED_ID_NAMESPACE = "3d8e5a27-4c61-4b0f-a2e9-7f13c6d90b54";
/** How often the execution is read again while the router may still finish the call. */
const POLL_MS = 1_000;

export interface UnfinishedCallDeps extends AuthoriseDeps {
  readonly store: EventStore;
  readonly tools: ToolClient;
  readonly logger: Logger;
}

/** What the execution holds of one tool call id: its start and its end, when recorded. */
export interface RecordedCall {
  readonly started: Recorded<"tool_call.started"> | null;
  readonly completed: Recorded<"tool_call.completed"> | null;
}

export async function recordedCall(store: EventStore, executionId: string, toolCallId: string): Promise<RecordedCall> {
  let started: Recorded<"tool_call.started"> | null = null;
  let completed: Recorded<"tool_call.completed"> | null = null;
  for (const e of await store.readAggregate("execution", executionId)) {
    if (e.type === "tool_call.started" && e.payload.tool_call_id === toolCallId) started ??= e;
    if (e.type === "tool_call.completed" && e.payload.tool_call_id === toolCallId) completed = e;
  }
  return { started, completed };
}

/** The summary the workflow keeps of a call recorded by an earlier attempt (or settled here). */
export function summaryOf(completed: Recorded<"tool_call.completed">): ToolRunSummary {
  const p = completed.payload;
  return {
    tool_call_id: p.tool_call_id,
    ok: p.status === "succeeded",
    status: p.status,
    exit_code: p.exit_code,
    detail: p.error ?? p.settled_by_read?.detail ?? "",
    evidence_id: p.evidence_id ?? null,
    reused: true,
  };
}

/**
 * Settles a write that started without an end: the recorded end if the router still reports one
 * before the call's capability expires, else the live state read decides (see the file's header).
 */
export async function settleUnfinishedCall(
  deps: UnfinishedCallDeps,
  input: RunToolInput,
  started: Recorded<"tool_call.started">,
): Promise<ToolRunSummary> {
  const startedAt = new Date(started.occurred_at);
  const deadline = startedAt.getTime() + deps.capabilityTtlMs;
  const context = activityContext();
  while (deps.now().getTime() < deadline) {
    const { completed } = await recordedCall(deps.store, input.execution_id, input.tool_call_id);
    if (completed) return summaryOf(completed);
    context?.heartbeat();
    await (context ? context.sleep(POLL_MS) : new Promise((resolve) => setTimeout(resolve, POLL_MS)));
  }
  const { completed } = await recordedCall(deps.store, input.execution_id, input.tool_call_id);
  if (completed) return summaryOf(completed);

  const what = `tool call ${input.tool_call_id} (${input.action_id}) started at ${started.occurred_at} and never reported an end`;
  const check = effectCheckFor(input.action_id);
  if (!check) {
    return refuse(
      deps,
      input,
      startedAt,
      `${what}; ${input.action_id} has no read that shows its effect, so it cannot be told whether it ran`,
    );
  }
  let read: GetResourceResult;
  try {
    const capability = await authoriseRead(deps, input);
    read = await deps.tools.getResource(
      { action_id: input.action_id, input: input.input, execution_id: input.execution_id, step_id: input.step_id },
      { capability, signal: context?.cancellationSignal },
    );
  } catch (error) {
    // The router refusing the read (4xx) will not change on a retry; it being away (5xx, no answer) may.
    if (error instanceof WheelhouseError && error.status >= 400 && error.status < 500) {
      return refuse(deps, input, startedAt, `${what}; reading the target's live state was refused: ${error.message}`);
    }
    throw error;
  }
  if (read.read?.status !== "succeeded" || read.state === null) {
    const how = read.read ? `${read.read.action_id} ${read.read.status}` : "no read action";
    return refuse(
      deps,
      input,
      startedAt,
      `${what}; the target's live state could not be read (${how}), so it cannot be told whether it ran`,
    );
  }
  const verdict = check(input.input, read.state, startedAt);
  const settled = { tool_call_id: read.read.tool_call_id, detail: verdict.detail };
  if (!verdict.shown) {
    return refuse(
      deps,
      input,
      startedAt,
      `${what}; the live state does not show its effect (${verdict.detail}), so it cannot be told whether it ran`,
      settled,
    );
  }
  deps.logger.warn(
    { tool_call_id: input.tool_call_id, read_tool_call_id: settled.tool_call_id },
    "an unfinished tool call's effect shows in the live state; recorded as completed instead of running it again",
  );
  return summaryOf(await recordEnd(deps, input, startedAt, "succeeded", null, settled));
}

/** Records the call as failed with `reason` and refuses it, never retried. */
async function refuse(
  deps: UnfinishedCallDeps,
  input: RunToolInput,
  startedAt: Date,
  reason: string,
  settled: { tool_call_id: string; detail: string } | null = null,
): Promise<never> {
  const message = `${reason}; it is not run again: check the target and request a new plan if the change is still wanted`;
  await recordEnd(deps, input, startedAt, "failed", message, settled);
  throw refused(message);
}

/** Appends the call's `tool_call.completed`, once (derived id and idempotency key). */
async function recordEnd(
  deps: UnfinishedCallDeps,
  input: RunToolInput,
  startedAt: Date,
  status: "succeeded" | "failed",
  error: string | null,
  settled: { tool_call_id: string; detail: string } | null,
): Promise<Recorded<"tool_call.completed">> {
  const key = `${input.execution_id}:${input.tool_call_id}:tool_call.completed:settled`;
  const now = deps.now();
  const event = newEvent(
    "tool_call.completed",
    input.execution_id,
    {
      execution_id: input.execution_id,
      tool_call_id: input.tool_call_id,
      step_id: input.step_id,
      status,
      exit_code: null,
      duration_ms: Math.max(0, now.getTime() - startedAt.getTime()),
      truncated: false,
      ...(error === null ? {} : { error }),
      ...(settled === null ? {} : { settled_by_read: settled }),
    },
    {
      actor: ORCHESTRATOR_ACTOR,
      correlation_id: input.execution_id,
      occurred_at: now.toISOString(),
      id: uuidv5(key, SETTLED_ID_NAMESPACE),
    },
  );
  const result = await deps.store.append([event], { idempotencyKey: key });
  return { ...event, seq: result.seqs[0] as number, stream: "", subject: "" } as Recorded<"tool_call.completed">;
}

/**
 * One tool call through the tool router, exactly once: a retried attempt
 * reuses the result the router recorded for the call instead of making it
 * again, and a write an earlier attempt started without an end is never run
 * again (unfinished-call.ts settles it from the live state or refuses it); a
 * first attempt is authorised (capability minted) and then made, heartbeating
 * while the tool runs.
 */
import { ApplicationFailure } from "@temporalio/activity";
import { WheelhouseError } from "../../../lib/errors/index.ts";
import type { EventStore } from "../../../lib/eventstore/index.ts";
import type { Logger } from "../../../lib/log/index.ts";
import type { RunToolInput, ToolRunSummary } from "../../../lib/orchestration/activities.ts";
import type { Catalog } from "../../../lib/tools/index.ts";
import { parseSelector, type Selected, selectValue } from "../../../lib/verification/index.ts";
import type { ExecuteToolResult } from "../../../schemas/rpc/tool-router.ts";
import type { ToolClient } from "../tool-client.ts";
import { type AuthoriseDeps, authorise } from "./approval.ts";
import { activityContext, attempt, refusal } from "./temporal.ts";
import { recordedCall, settleUnfinishedCall, summaryOf } from "./unfinished-call.ts";

export interface RunToolDeps extends AuthoriseDeps {
  readonly store: EventStore;
  readonly tools: ToolClient;
  readonly catalog: Catalog;
  readonly logger: Logger;
  /** How often a running tool call heartbeats. */
  readonly heartbeatMs: number;
}

export async function runTool(deps: RunToolDeps, input: RunToolInput): Promise<ToolRunSummary> {
  const action = deps.catalog.get(input.action_id);
  if (input.purpose === "verification" && action?.kind !== "read") {
    throw ApplicationFailure.create({
      type: "ToolCallRefused",
      nonRetryable: true,
      message: `verification must use a read action; ${input.action_id} is ${action ? action.kind : "not in the catalog"}`,
    });
  }
  if (attempt() > 1) {
    const { started, completed } = await recordedCall(deps.store, input.execution_id, input.tool_call_id);
    if (completed && completed.payload.status !== "refused") {
      deps.logger.info(
        { tool_call_id: input.tool_call_id },
        "tool call already made by an earlier attempt; reusing it",
      );
      return summaryOf(completed);
    }
    // A read or a dry run changes nothing: made again. A write may have taken effect: never made again.
    if (started && !completed && action?.kind !== "read" && !input.dry_run) {
      return settleUnfinishedCall(deps, input, started);
    }
  }
  const capability = await authorise(deps, input, action?.kind === "read" ? "read" : "write");

  const context = activityContext();
  const beat = context ? setInterval(() => context.heartbeat(), deps.heartbeatMs) : null;
  let result: ExecuteToolResult;
  try {
    result = await deps.tools.executeTool(
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
    ...(input.select === undefined ? {} : { selected: selected(result, input.select) }),
  };
}

/** The value a verification analysis measures in the read's output (the whole output stays evidence). */
function selected(result: ExecuteToolResult, path: string): Selected {
  const parsed = parseSelector(path);
  if (!parsed.ok) return { value: null, reason: parsed.message };
  if (!result.ok) return { value: null, reason: `the read ${result.status}` };
  return selectValue(result.stdout.text, parsed.selector);
}

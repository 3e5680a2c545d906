/**
 * What a tool call must pass before the orchestrator signs its capability:
 * it is the call its plan revision names for the step and purpose, and, for
 * a write, the approval still holds at this moment, recorded on the plan as
 * `plan.write_authorized` under the plan's version it was checked at.
 */
import { ApplicationFailure } from "@temporalio/activity";
import { v5 as uuidv5 } from "uuid";
import type { Actor, AnyRecordedEvent, PlanStep } from "../../../events/index.ts";
import {
  decide,
  envelopeDrafts,
  type PlanEventDraft,
  type PlanState,
  planDecider,
  planRevisionDigest,
  revisionDigest,
} from "../../../lib/domain/index.ts";
import { ConflictError, WheelhouseError } from "../../../lib/errors/index.ts";
import { aggregateStream, type EventStore, handleCommand } from "../../../lib/eventstore/index.ts";
import type { ApprovalCheckInput, PlanRevisionRef, RunToolInput } from "../../../lib/orchestration/activities.ts";
import { type CapabilityMinter, toolInputSha256 } from "../../../lib/tools/index.ts";
import { proposedRevision } from "./plan.ts";
import { attempt, refusal, refused } from "./temporal.ts";

export const ORCHESTRATOR_ACTOR: Actor = { kind: "service", id: "orchestrator", roles: [] };

/** Namespace of the `plan.write_authorized` ids (uuid v5 of the authorisation's idempotency key). */
const AUTHORISATION_ID_NAMESPACE = "0b6f2d4e-8c1a-4f3b-9e7d-2a5c6b8d1e40";

export interface AuthoriseDeps {
  readonly store: EventStore;
  readonly capabilities: CapabilityMinter;
  /** How long a capability lives: the tool's timeout plus a margin. */
  readonly capabilityTtlMs: number;
  readonly now: () => Date;
}

/**
 * Throws `ApprovalRefused` unless the plan (`state`, read just now) still allows the step to run.
 * `digest` is the digest of the revision as it runs (its steps read now): the approvals must be for it.
 */
export function assertApproved(check: ApprovalCheckInput, state: PlanState, now: Date, digest?: string | null): void {
  try {
    // The same rules that admitted `execution.requested`, applied again now: revision, digest, denial, expiry, quorum.
    decide(
      {
        type: "RequestExecution",
        planId: check.plan_id,
        revision: check.revision,
        executionId: check.execution_id,
        // A revision whose steps do not match its recorded digest runs under none: refused.
        ...(digest === undefined ? {} : { digest: digest ?? "" }),
        actor: ORCHESTRATOR_ACTOR,
        now,
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

/** Reads the plan now and re-checks that the step may still run; throws `ApprovalRefused` if not. */
export async function checkApproval(deps: Pick<AuthoriseDeps, "store" | "now">, check: ApprovalCheckInput) {
  const { state, events } = await aggregateStream(deps.store, planDecider, check.plan_id);
  assertApproved(check, state, deps.now(), revisionDigest(proposedRevision(events, check).payload));
}

/** How often a write's authorisation is decided again after the plan moved under it before giving up (retried). */
const AUTHORISE_TRIES = 5;

/**
 * Checks the call against the plan revision it claims to belong to and, for a write, against the
 * approval as it stands now; only then signs the capability the tool router asks for.
 *
 * A write is authorised by appending `plan.write_authorized` on the plan, guarded by the plan's
 * version the approval was re-checked at: a withdrawal, an expiry or a new revision recorded between
 * the re-check and the append refuses the append, and the call is decided again on what is there now
 * (and refused if the approval no longer holds). Nothing recorded after that append can stop the
 * call: the append is the moment the write was allowed.
 */
export async function authorise(deps: AuthoriseDeps, input: RunToolInput, kind: "read" | "write"): Promise<string> {
  const plan =
    input.plan ?? (input.approval ? { plan_id: input.approval.plan_id, revision: input.approval.revision } : null);
  if (!plan) throw refused("the call names no plan revision; the orchestrator only runs calls of an approved plan");
  if (input.approval && (input.approval.plan_id !== plan.plan_id || input.approval.revision !== plan.revision)) {
    throw refused("the approval to re-check is for another plan revision than the call");
  }
  // A write of the plan is re-checked against the approval at this moment, whether or not the workflow asked.
  const write = input.approval !== undefined || (input.purpose === "step" && kind === "write" && !input.dry_run);
  const proposed = write ? await authoriseWrite(deps, input, plan) : await plannedCall(deps, input, plan);
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
    { ttlMs: deps.capabilityTtlMs },
  );
}

/**
 * A `read` capability (GetResource) for the target of `input`, a call its plan revision names: to
 * read the live state a write left, never to change it.
 */
export async function authoriseRead(deps: AuthoriseDeps, input: RunToolInput): Promise<string> {
  const plan =
    input.plan ?? (input.approval ? { plan_id: input.approval.plan_id, revision: input.approval.revision } : null);
  if (!plan) throw refused("the call names no plan revision; the orchestrator only reads for calls of a plan");
  const proposed = await plannedCall(deps, input, plan);
  return deps.capabilities.mint(
    {
      purpose: "read",
      execution_id: input.execution_id,
      step_id: input.step_id,
      action_id: input.action_id,
      input: input.input,
      plan_id: plan.plan_id,
      plan_revision: plan.revision,
      plan_digest: planRevisionDigest(proposed.payload.steps),
    },
    { ttlMs: deps.capabilityTtlMs },
  );
}

/** The revision's `plan.proposed`, once `input` is known to be a call it names. */
async function plannedCall(deps: Pick<AuthoriseDeps, "store">, input: RunToolInput, plan: PlanRevisionRef) {
  const { events } = await aggregateStream(deps.store, planDecider, plan.plan_id);
  return checkedProposal(events, input, plan);
}

function checkedProposal(events: readonly AnyRecordedEvent[], input: RunToolInput, plan: PlanRevisionRef) {
  const proposed = proposedRevision(events, plan);
  const problem = callInPlan(input, proposed.payload.steps);
  if (problem) throw refused(`${problem} (plan ${plan.plan_id} revision ${plan.revision})`);
  return proposed;
}

/**
 * A write the orchestrator makes itself rather than through the tool router (a pull request,
 * activities/integrations/pull-request.ts), authorised as a tool write is: the call its plan revision
 * names for the step, with the approval holding now, recorded as `plan.write_authorized`. No capability.
 */
export async function authoriseOwnWrite(
  deps: Pick<AuthoriseDeps, "store" | "now">,
  input: RunToolInput & { readonly plan: PlanRevisionRef },
): Promise<void> {
  await authoriseWrite(deps, input, input.plan);
}

/** Appends `plan.write_authorized` through the plan decider, guarded by the version it decided on. */
async function authoriseWrite(deps: Pick<AuthoriseDeps, "store" | "now">, input: RunToolInput, plan: PlanRevisionRef) {
  // One authorisation per attempt: a retried attempt is decided again, on the plan as it is then.
  const key = `write_authorized:${input.execution_id}:${input.tool_call_id}:${attempt()}`;
  for (let tries = 1; ; tries++) {
    let proposed: ReturnType<typeof checkedProposal> | undefined;
    try {
      await handleCommand(
        deps.store,
        planDecider,
        plan.plan_id,
        (state, { events }) => {
          proposed = checkedProposal(events, input, plan);
          const now = deps.now();
          let drafts: PlanEventDraft[];
          try {
            drafts = decide(
              {
                type: "AuthorizeWrite",
                planId: plan.plan_id,
                revision: plan.revision,
                // A revision whose steps do not match its recorded digest runs under none: refused.
                digest: revisionDigest(proposed.payload) ?? "",
                executionId: input.execution_id,
                stepId: input.step_id,
                toolCallId: input.tool_call_id,
                actionId: input.action_id,
                actor: ORCHESTRATOR_ACTOR,
                now,
              },
              state,
            );
          } catch (error) {
            if (error instanceof WheelhouseError) throw refusal("ApprovalRefused", error);
            throw error;
          }
          return envelopeDrafts(drafts, plan.plan_id, {
            actor: ORCHESTRATOR_ACTOR,
            correlation_id: input.execution_id,
            occurred_at: now.toISOString(),
            id: uuidv5(key, AUTHORISATION_ID_NAMESPACE),
          });
        },
        { idempotencyKey: key },
      );
      return proposed as NonNullable<typeof proposed>;
    } catch (error) {
      // Only the append refuses with a ConflictError here (the decider's refusals are ApprovalRefused):
      // something was recorded on the plan since the re-check. Decide again on what is there now.
      if (error instanceof ConflictError && tries < AUTHORISE_TRIES) continue;
      throw error;
    }
  }
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

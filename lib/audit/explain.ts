/**
 * Builds `explainChange`'s answer (explanation.ts) from a change's events:
 * the plan's story (intent, revisions, policy, approvals) and each
 * execution's, with the evidence every item names linked and, on demand,
 * checked against its digest.
 */
import type { AnyRecordedEvent, PlanContextRef } from "../../events/index.ts";
import { revisionDigest } from "../domain/index.ts";
import type { EvidenceStore } from "../evidence/index.ts";
import type { ChangeExplanation, EventRef, EvidenceLink, ExecutionStory } from "./explanation.ts";

export interface ExplainInput {
  readonly requestedId: string;
  readonly planId: string | null;
  readonly planEvents: readonly AnyRecordedEvent[];
  readonly executions: readonly (readonly AnyRecordedEvent[])[];
  readonly auditByEvent: ReadonlyMap<string, { seq: number; hash: string }>;
  readonly evidenceStore: EvidenceStore;
  readonly verifyEvidence: boolean;
}

/** Shown inline (up to 64 KiB): the prompt, the model's answer, and each tool call's output (argv, exit code, stdout, stderr). */
const INLINE_KINDS = new Set(["prompt", "model_response", "tool_output"]);
const INLINE_LIMIT = 64 * 1024;

export async function buildExplanation(input: ExplainInput): Promise<ChangeExplanation> {
  const ref = (e: AnyRecordedEvent): EventRef => ({
    event_id: e.id,
    seq: e.seq,
    type: e.type,
    occurred_at: e.occurred_at,
    actor: e.actor,
    audit: input.auditByEvent.get(e.id) ?? null,
  });

  const all = [...input.planEvents, ...input.executions.flat()].sort((a, b) => a.seq - b.seq);
  const evidence = new Map<string, EvidenceLink>();
  for (const e of all) {
    if (e.type !== "evidence.stored") continue;
    const p = e.payload;
    evidence.set(p.evidence_id, {
      evidence_id: p.evidence_id,
      kind: p.kind,
      uri: p.uri,
      sha256: p.sha256,
      size_bytes: p.size_bytes,
      content_type: p.content_type,
      redacted: p.redacted,
      recorded_by: ref(e),
    });
  }
  // Blobs are read (and so checked) only when asked to, or for the prompt and answer shown inline.
  await Promise.all(
    [...evidence.values()].map(async (link) => {
      const inline = INLINE_KINDS.has(link.kind ?? "");
      if (!inline && !input.verifyEvidence) return;
      const target = link as { -readonly [K in keyof EvidenceLink]: EvidenceLink[K] };
      try {
        const blob = await input.evidenceStore.readEvidence({
          evidence_id: link.evidence_id,
          uri: link.uri as string,
          sha256: link.sha256 as string,
        });
        target.verified = true;
        if (inline) target.content = blob.subarray(0, INLINE_LIMIT).toString("utf8");
      } catch (error) {
        target.verified = false;
        target.integrity_error = error instanceof Error ? error.message : String(error);
      }
    }),
  );
  const link = (id: string | undefined): EvidenceLink | null => {
    if (id === undefined) return null;
    return (
      evidence.get(id) ?? {
        evidence_id: id,
        kind: null,
        uri: null,
        sha256: null,
        size_bytes: null,
        content_type: null,
        redacted: null,
        recorded_by: null,
      }
    );
  };

  let intent: ChangeExplanation["intent"] = null;
  const revisions: ChangeExplanation["revisions"] = [];
  const planningFailures: ChangeExplanation["planning_failures"] = [];
  const policy: ChangeExplanation["policy"] = [];
  const approvals: ChangeExplanation["approvals"] = [];
  for (const e of input.planEvents) {
    switch (e.type) {
      case "plan.requested":
        intent = {
          text: e.payload.intent,
          source: e.payload.source,
          environment: e.payload.environment ?? null,
          service: e.payload.service ?? null,
          signal_id: e.payload.signal_id ?? null,
          requested_by: e.actor,
          event: ref(e),
        };
        break;
      case "plan.proposed":
        revisions.push({
          revision: e.payload.revision,
          summary: e.payload.summary,
          planner: e.payload.planner,
          steps: e.payload.steps,
          digest: revisionDigest(e.payload),
          context: contextOf(e.payload.context, link),
          evidence: e.payload.evidence_ids.map((id) => link(id) as EvidenceLink),
          event: ref(e),
        });
        break;
      case "plan.failed":
        planningFailures.push({ reasons: e.payload.reasons, event: ref(e) });
        break;
      case "policy.decided":
        policy.push({
          revision: e.payload.revision,
          decision: e.payload.decision,
          tier: e.payload.tier,
          reasons: e.payload.reasons,
          policy_revision: e.payload.policy_revision,
          approvers_required: e.payload.approvers_required,
          expires_at: e.payload.expires_at,
          steps: e.payload.steps,
          event: ref(e),
        });
        break;
      case "approval.requested":
      case "approval.granted":
      case "approval.denied":
      case "approval.expired": {
        const p = e.payload as {
          approval_id: string;
          revision: number;
          approver?: string;
          channel?: string;
          digest?: string | null;
          break_glass?: boolean;
          comment?: string;
          reason?: string;
        };
        approvals.push({
          approval_id: p.approval_id,
          revision: p.revision,
          status: e.type.slice("approval.".length) as "requested" | "granted" | "denied" | "expired",
          approver: p.approver ?? null,
          via: p.channel ?? null,
          channel: p.channel ?? null,
          digest: p.digest ?? null,
          break_glass: p.break_glass === true,
          comment: p.comment ?? null,
          reason: p.reason ?? null,
          at: e.occurred_at,
          actor: e.actor,
          event: ref(e),
        });
        break;
      }
      default:
        break;
    }
  }

  const executions = input.executions.map((events) => explainExecution(events, ref, link));
  const planEvidence = [...evidence.values()];
  return {
    requested_id: input.requestedId,
    plan_id: input.planId,
    correlation_ids: [...new Set(all.map((e) => e.correlation_id))],
    intent,
    planner: {
      prompt: planEvidence.filter((l) => l.kind === "prompt"),
      model_response: planEvidence.filter((l) => l.kind === "model_response"),
    },
    revisions,
    planning_failures: planningFailures,
    policy,
    approvals,
    executions,
    evidence: planEvidence,
    timeline: all.map(ref),
  };
}

/** The context snapshot a revision was made from, with its evidence; the blob's sha256 is the digest when it is intact. */
function contextOf(
  context: PlanContextRef | undefined,
  link: (id: string | undefined) => EvidenceLink | null,
): ChangeExplanation["revisions"][number]["context"] {
  if (!context) return null;
  const evidence = link(context.evidence_id);
  return {
    digest: context.digest,
    scope: context.scope,
    nodes: context.nodes,
    edges: context.edges,
    ref: context.ref ?? null,
    evidence,
    evidence_matches: evidence?.sha256 === context.digest,
  };
}

function explainExecution(
  events: readonly AnyRecordedEvent[],
  ref: (e: AnyRecordedEvent) => EventRef,
  link: (id: string | undefined) => EvidenceLink | null,
): ExecutionStory {
  const story = {
    execution_id: events[0]?.aggregate_id ?? "",
    revision: null as number | null,
    dry_run: false,
    status: "requested",
    requested: null as EventRef | null,
    started: null as EventRef | null,
    steps: [] as ExecutionStory["steps"][number][],
    tool_calls: [] as {
      -readonly [K in keyof ExecutionStory["tool_calls"][number]]: ExecutionStory["tool_calls"][number][K];
    }[],
    verification: [] as ExecutionStory["verification"][number][],
    pauses: [] as { -readonly [K in keyof ExecutionStory["pauses"][number]]: ExecutionStory["pauses"][number][K] }[],
    rollback: [] as ExecutionStory["rollback"][number][],
    outcome: null as ExecutionStory["outcome"],
  };
  for (const e of events) {
    switch (e.type) {
      case "execution.requested":
        story.revision = e.payload.revision;
        story.dry_run = e.payload.dry_run;
        story.requested = ref(e);
        break;
      case "execution.started":
        story.status = "running";
        story.started = ref(e);
        break;
      case "execution.step_started":
      case "execution.step_completed":
        story.steps.push({
          step_id: e.payload.step_id,
          action_id: e.payload.action_id,
          status: e.payload.status,
          detail: e.payload.detail ?? null,
          event: ref(e),
        });
        break;
      case "tool_call.started":
        story.tool_calls.push({
          tool_call_id: e.payload.tool_call_id,
          step_id: e.payload.step_id,
          action_id: e.payload.action_id,
          binary: e.payload.binary,
          argv: e.payload.argv,
          via: e.payload.via,
          dry_run: e.payload.dry_run,
          status: null,
          exit_code: null,
          duration_ms: null,
          stdout_sha256: null,
          stderr_sha256: null,
          error: null,
          output: null,
          started: ref(e),
          completed: null,
        });
        break;
      case "tool_call.completed": {
        const call = story.tool_calls.find((c) => c.tool_call_id === e.payload.tool_call_id);
        if (!call) break;
        call.status = e.payload.status;
        call.exit_code = e.payload.exit_code;
        call.duration_ms = e.payload.duration_ms;
        call.stdout_sha256 = e.payload.stdout_sha256 ?? null;
        call.stderr_sha256 = e.payload.stderr_sha256 ?? null;
        call.error = e.payload.error ?? null;
        call.output = link(e.payload.evidence_id);
        call.completed = ref(e);
        break;
      }
      case "execution.verified":
      case "execution.verification_failed":
        story.status = e.type === "execution.verified" ? "verified" : "verification_failed";
        story.verification.push({
          passed: e.type === "execution.verified",
          step_id: e.payload.step_id ?? null,
          checks: e.payload.checks.map((c) => ({
            description: c.description,
            passed: c.passed,
            detail: c.detail ?? null,
            evidence: link(c.evidence_id),
          })),
          event: ref(e),
        });
        break;
      // As the executions read model: paused until the verdict is recorded, then running again.
      case "execution.paused":
        story.status = "paused";
        story.pauses.push({
          step_id: e.payload.step_id,
          check: e.payload.check,
          reason: e.payload.reason,
          attempts: e.payload.attempts,
          deadline: e.payload.deadline,
          event: ref(e),
          verdict: null,
        });
        break;
      case "execution.verdict_requested": {
        // The gateway accepts a verdict only while paused, on the paused step; one came later changes nothing.
        const pause = story.pauses.find((p) => p.step_id === e.payload.step_id && p.verdict === null);
        if (!pause || story.status !== "paused") break;
        pause.verdict = {
          decision: e.payload.decision,
          reason: e.payload.reason,
          requested_by: e.payload.requested_by,
          event: ref(e),
        };
        story.status = "running";
        break;
      }
      case "execution.rollback_started":
      case "execution.rolled_back":
        story.status = e.type === "execution.rolled_back" ? "rolled_back" : "rolling_back";
        story.rollback.push({
          phase: e.type === "execution.rolled_back" ? "rolled_back" : "started",
          reason: e.payload.reason,
          step_ids: e.payload.step_ids,
          event: ref(e),
        });
        break;
      case "execution.succeeded":
      case "execution.failed":
      case "execution.cancelled":
        story.status = e.type.slice("execution.".length);
        story.outcome = { status: story.status, reason: e.payload.reason ?? null, event: ref(e) };
        break;
      default:
        break;
    }
  }
  return story;
}

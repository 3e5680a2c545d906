/**
 * What `explainChange` answers: one change told from intent to outcome,
 * every item pointing at the event that records it (`EventRef`) and at the
 * evidence behind it (`EvidenceLink`). Built by `buildExplanation`
 * (explain.ts).
 */
import type { Actor, PlanStep } from "../../events/index.ts";

/** Where an item is recorded: the event, its place in the stream and in the audit chain. */
export interface EventRef {
  readonly event_id: string;
  readonly seq: number;
  readonly type: string;
  readonly occurred_at: string;
  readonly actor: Actor;
  /** The audit record of this event (null while the projector has not reached it). */
  readonly audit: { readonly seq: number; readonly hash: string } | null;
}

export interface EvidenceLink {
  readonly evidence_id: string;
  readonly kind: string | null;
  readonly uri: string | null;
  readonly sha256: string | null;
  readonly size_bytes: number | null;
  readonly content_type: string | null;
  readonly redacted: boolean | null;
  /** The `evidence.stored` event; null when an event names evidence that was never recorded. */
  readonly recorded_by: EventRef | null;
  /** With `verifyEvidence`: whether the blob still matches its digest. */
  readonly verified?: boolean | undefined;
  /** Prompt, model answer (redacted before storing) and tool output are included, up to 64 KiB. */
  readonly content?: string | undefined;
  readonly integrity_error?: string | undefined;
}

export interface ChangeExplanation {
  readonly requested_id: string;
  readonly plan_id: string | null;
  readonly correlation_ids: string[];
  readonly intent: {
    readonly text: string;
    readonly source: string;
    readonly environment: string | null;
    readonly service: string | null;
    readonly signal_id: string | null;
    readonly requested_by: Actor;
    readonly event: EventRef;
  } | null;
  readonly planner: { readonly prompt: EvidenceLink[]; readonly model_response: EvidenceLink[] };
  readonly revisions: {
    readonly revision: number;
    readonly summary: string;
    readonly planner: unknown;
    readonly steps: PlanStep[];
    /** What approvals of this revision bind to; null when its recorded digest disagrees with its steps. */
    readonly digest: string | null;
    /** The service graph the revision was made from (`plan.proposed.context`); null before it was recorded. */
    readonly context: {
      readonly digest: string;
      readonly scope: { readonly environment?: string | undefined };
      readonly nodes: number;
      readonly edges: number;
      readonly ref: string | null;
      readonly evidence: EvidenceLink | null;
      /** Whether the stored snapshot's sha256 is the digest (it is, unless a detector redacted something in it). */
      readonly evidence_matches: boolean;
    } | null;
    readonly evidence: EvidenceLink[];
    readonly event: EventRef;
  }[];
  readonly planning_failures: { readonly reasons: string[]; readonly event: EventRef }[];
  readonly policy: {
    readonly revision: number;
    readonly decision: string;
    readonly tier: string;
    readonly reasons: string[];
    readonly policy_revision: string;
    readonly approvers_required: number;
    readonly expires_at: string;
    readonly steps: unknown[];
    readonly event: EventRef;
  }[];
  readonly approvals: {
    readonly approval_id: string;
    readonly revision: number;
    readonly status: "requested" | "granted" | "denied" | "expired";
    readonly approver: string | null;
    /** The channel (api, cli, console, slack, linear); `via` is its older name, kept for clients. */
    readonly via: string | null;
    readonly channel: string | null;
    /** The revision digest the approver answered for (null on requests and pre-digest answers). */
    readonly digest: string | null;
    readonly break_glass: boolean;
    readonly comment: string | null;
    readonly reason: string | null;
    readonly at: string;
    readonly actor: Actor;
    readonly event: EventRef;
  }[];
  readonly executions: ExecutionStory[];
  /** Every evidence blob recorded for the plan and its executions. */
  readonly evidence: EvidenceLink[];
  /** Every event, in stream order. */
  readonly timeline: EventRef[];
}

export interface ExecutionStory {
  readonly execution_id: string;
  readonly revision: number | null;
  readonly dry_run: boolean;
  readonly status: string;
  readonly requested: EventRef | null;
  readonly started: EventRef | null;
  readonly steps: {
    readonly step_id: string;
    readonly action_id: string;
    readonly status: string;
    readonly detail: string | null;
    readonly event: EventRef;
  }[];
  readonly tool_calls: {
    readonly tool_call_id: string;
    readonly step_id: string;
    readonly action_id: string;
    readonly binary: string;
    readonly argv: string[];
    readonly via: string;
    readonly dry_run: boolean;
    readonly status: string | null;
    readonly exit_code: number | null;
    readonly duration_ms: number | null;
    readonly stdout_sha256: string | null;
    readonly stderr_sha256: string | null;
    readonly error: string | null;
    readonly output: EvidenceLink | null;
    readonly started: EventRef;
    readonly completed: EventRef | null;
  }[];
  readonly verification: {
    readonly passed: boolean;
    readonly step_id: string | null;
    readonly checks: {
      readonly description: string;
      readonly passed: boolean;
      readonly detail: string | null;
      readonly evidence: EvidenceLink | null;
    }[];
    readonly event: EventRef;
  }[];
  /**
   * Each verification analysis the execution paused on for a person's verdict (`execution.paused`:
   * it stayed inconclusive and its step says `on_inconclusive: "pause"`), in order, with the verdict
   * given on it (`execution.verdict_requested`), null while none is.
   */
  readonly pauses: {
    readonly step_id: string;
    /** The check's description, as the step's verification names it. */
    readonly check: string;
    /** Why it stayed inconclusive (its last measurement). */
    readonly reason: string;
    readonly attempts: number;
    /** When the wait ends without a verdict (the check then fails). */
    readonly deadline: string;
    readonly event: EventRef;
    readonly verdict: {
      readonly decision: "pass" | "fail";
      readonly reason: string;
      readonly requested_by: string;
      readonly event: EventRef;
    } | null;
  }[];
  readonly rollback: {
    readonly phase: "started" | "rolled_back";
    readonly reason: string;
    readonly step_ids: string[];
    readonly event: EventRef;
  }[];
  readonly outcome: { readonly status: string; readonly reason: string | null; readonly event: EventRef } | null;
}

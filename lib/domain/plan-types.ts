/**
 * The plan aggregate's state, commands and event drafts: the vocabulary
 * `decide` and `evolve` (plan-decide.ts, plan-evolve.ts) speak.
 */
import type { Actor, ApprovalChannel, EventPayload, WorkflowType } from "../../events/index.ts";

export type PolicyDecision = EventPayload<"policy.decided">;

/** One approver's answer for one revision. */
export interface ApprovalRecord {
  readonly approver: string;
  readonly decision: "granted" | "denied";
  readonly at: string;
  readonly approvalId: string;
  readonly channel: ApprovalChannel;
  /** The digest the approver was shown; null for answers recorded before digests (they never count). */
  readonly digest: string | null;
  /** The approver's groups when they answered (the event actor's `groups`). */
  readonly groups: readonly string[];
  /** A break-glass grant: it meets the quorum alone. */
  readonly breakGlass: boolean;
}

/** Who asked for the plan and what for: kept by every state after the request. */
export interface Requested {
  readonly planId: string;
  readonly requestedBy: Actor;
  readonly intent: string;
  /** `plan.requested`'s source (an alert, a person, a webhook): part of what picks the workflow type. */
  readonly source?: EventPayload<"plan.requested">["source"] | undefined;
  readonly environment?: string | undefined;
  readonly service?: string | undefined;
}

/** The plan's state, keyed on `status`. */
export type PlanState =
  | { readonly status: "empty" }
  | ({ readonly status: "requested" } & Requested)
  | ({ readonly status: "failed"; readonly reasons: readonly string[] } & Requested)
  | ({
      readonly status: "proposed";
      readonly revision: number;
      /** The revision's digest (`planRevisionDigest` of its steps); null when its recorded digest disagrees. */
      readonly digest: string | null;
      /** The workflow type that runs the revision (`workflowKindOf` its source and steps). */
      readonly workflowType?: WorkflowType | undefined;
    } & Requested)
  | ({
      readonly status: "decided";
      readonly revision: number;
      /** The digest of the revision policy decided; approvals and executions must name it. */
      readonly digest: string | null;
      /** The workflow type that runs the decided revision; absent when the state never held its proposal. */
      readonly workflowType?: WorkflowType | undefined;
      readonly policy: PolicyDecision;
      /** When `policy.decided` was recorded: the approval TTL runs from it. */
      readonly decidedAt: string;
      /** Set by `approval.requested`: the pending request's expiry. */
      readonly approvalExpiresAt: string | null;
      readonly approvalId: string | null;
      readonly approvals: readonly ApprovalRecord[];
      /** Set by `approval.expired`: no grant is taken after it, and none given before counts. */
      readonly expiredAt: string | null;
    } & Requested);

export const initialState: PlanState = { status: "empty" };

/** What a command produces: events not yet enveloped (the caller adds ids, actor and correlation). */
export type PlanEventDraft =
  | {
      readonly type: "plan.requested";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"plan.requested">;
    }
  | {
      readonly type: "approval.requested";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"approval.requested">;
    }
  | {
      readonly type: "approval.expired";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"approval.expired">;
    }
  | {
      readonly type: "approval.granted";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"approval.granted">;
    }
  | {
      readonly type: "approval.denied";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"approval.denied">;
    }
  | {
      readonly type: "plan.write_authorized";
      readonly aggregateType: "plan";
      readonly payload: EventPayload<"plan.write_authorized">;
    }
  | {
      readonly type: "execution.requested";
      readonly aggregateType: "execution";
      readonly payload: EventPayload<"execution.requested">;
    };

/** What granting and denying share: the approver (`actor`), the revision and digest they answer, the channel. */
export interface ApprovalAnswerCommand {
  readonly planId: string;
  readonly revision: number;
  /** The digest the approver was shown; refused unless it is the revision's. */
  readonly digest: string;
  readonly actor: Actor;
  readonly channel: ApprovalChannel;
  readonly comment?: string | undefined;
  /** Used when no `approval.requested` named one. */
  readonly approvalId: string;
  readonly now: Date;
}

export type PlanCommand =
  | {
      readonly type: "RequestPlan";
      readonly planId: string;
      readonly intent: string;
      readonly source: EventPayload<"plan.requested">["source"];
      readonly environment?: string | undefined;
      readonly service?: string | undefined;
      readonly signalId?: string | undefined;
      readonly actor: Actor;
      readonly now: Date;
    }
  | {
      /** Opens the pending approval of a decided revision (once per revision; a repeat yields nothing). */
      readonly type: "RequestApproval";
      readonly planId: string;
      readonly revision: number;
      readonly approvalId: string;
      readonly links?: Record<string, string> | undefined;
      readonly actor: Actor;
      readonly now: Date;
    }
  | ({
      readonly type: "GrantApproval";
      /** A break-glass grant (alone meets the quorum where policy allows it); `reason` must say why. */
      readonly breakGlass?: { readonly reason: string } | undefined;
    } & ApprovalAnswerCommand)
  | ({ readonly type: "DenyApproval"; readonly reason: string } & ApprovalAnswerCommand)
  | {
      /** The expiry timer: closes a still-pending approval once its window has passed (a repeat yields nothing). */
      readonly type: "ExpireApproval";
      readonly planId: string;
      readonly revision: number;
      readonly actor: Actor;
      readonly now: Date;
    }
  | {
      readonly type: "RequestExecution";
      readonly planId: string;
      readonly revision: number;
      readonly executionId: string;
      /** The digest of the revision the caller runs (or saw); refused unless it is the revision's. */
      readonly digest?: string | undefined;
      readonly dryRun?: boolean | undefined;
      /** Set when policy starts the execution without a person (stage 2): recorded as `started_by`. */
      readonly startedBy?: EventPayload<"execution.requested">["started_by"];
      readonly actor: Actor;
      readonly now: Date;
    }
  | {
      /**
       * The orchestrator, right before one write of an execution: the same rules as `RequestExecution`
       * (revision, digest, no denial, not expired, quorum) and policy did not deny the step. Yields
       * `plan.write_authorized`, appended guarded by the version this was decided on, so that an answer
       * or a revision recorded in between refuses it.
       */
      readonly type: "AuthorizeWrite";
      readonly planId: string;
      readonly revision: number;
      /** The digest of the revision as the orchestrator runs it (its steps read now). */
      readonly digest: string;
      readonly executionId: string;
      readonly stepId: string;
      readonly toolCallId: string;
      readonly actionId: string;
      readonly actor: Actor;
      readonly now: Date;
    };

/** Ends a `switch` that must cover every case: the compiler proves `value` cannot occur. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}

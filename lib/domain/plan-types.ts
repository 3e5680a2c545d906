/**
 * The plan aggregate's state, commands and event drafts: the vocabulary
 * `decide` and `evolve` (plan-decide.ts, plan-evolve.ts) speak.
 */
import type { Actor, EventPayload } from "../../events/index.ts";

export type PolicyDecision = EventPayload<"policy.decided">;

/** One approver's answer for one revision. */
export interface ApprovalRecord {
  readonly approver: string;
  readonly decision: "granted" | "denied";
  readonly at: string;
  readonly approvalId: string;
}

/** Who asked for the plan and what for: kept by every state after the request. */
export interface Requested {
  readonly planId: string;
  readonly requestedBy: Actor;
  readonly intent: string;
  readonly environment?: string | undefined;
  readonly service?: string | undefined;
}

/** The plan's state, keyed on `status`. */
export type PlanState =
  | { readonly status: "empty" }
  | ({ readonly status: "requested" } & Requested)
  | ({ readonly status: "failed"; readonly reasons: readonly string[] } & Requested)
  | ({ readonly status: "proposed"; readonly revision: number } & Requested)
  | ({
      readonly status: "decided";
      readonly revision: number;
      readonly policy: PolicyDecision;
      /** Set by `approval.requested`; approvals after it do not count. */
      readonly approvalExpiresAt: string | null;
      readonly approvalId: string | null;
      readonly approvals: readonly ApprovalRecord[];
      readonly expiredApprovalIds: readonly string[];
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
      readonly type: "execution.requested";
      readonly aggregateType: "execution";
      readonly payload: EventPayload<"execution.requested">;
    };

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
      readonly type: "GrantApproval";
      readonly planId: string;
      readonly revision: number;
      readonly actor: Actor;
      readonly via: "api" | "slack" | "linear";
      readonly comment?: string | undefined;
      /** Used when no `approval.requested` named one. */
      readonly approvalId: string;
      readonly now: Date;
    }
  | {
      readonly type: "DenyApproval";
      readonly planId: string;
      readonly revision: number;
      readonly actor: Actor;
      readonly via: "api" | "slack" | "linear";
      readonly comment?: string | undefined;
      readonly reason: string;
      readonly approvalId: string;
      readonly now: Date;
    }
  | {
      readonly type: "RequestExecution";
      readonly planId: string;
      readonly revision: number;
      readonly executionId: string;
      readonly dryRun?: boolean | undefined;
      readonly actor: Actor;
      readonly now: Date;
    };

/** Ends a `switch` that must cover every case: the compiler proves `value` cannot occur. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}

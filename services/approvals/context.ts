/**
 * What the approvals service's parts share: its dependencies, the issues it
 * follows, and the reads every part makes (a plan's events, the revision an
 * execution ran, an issue's subject).
 */
import { v5 as uuidv5 } from "uuid";
import type { Actor, AnyRecordedEvent } from "../../events/index.ts";
import type { Identity } from "../../lib/config/index.ts";
import { revisionDigest } from "../../lib/domain/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { EvidenceRef } from "../../lib/evidence/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { type IssueSubject, issueIdFor } from "./issue.ts";
import type { LinearApprovals } from "./linear.ts";
import type { TransitionRules } from "./transitions.ts";

export const APPROVALS_ACTOR: Actor = { kind: "service", id: "approvals", roles: [] };

/** Namespace of the event ids this service derives (`uuidv5(key, EVENT_ID_NAMESPACE)`). */
export const EVENT_ID_NAMESPACE = "3c5e7a1f-8b2d-4f60-a9e4-7d1c2b3a4e5f";
export const eventIdFor = (key: string) => uuidv5(key, EVENT_ID_NAMESPACE);

export interface ApprovalsDeps {
  readonly store: EventStore;
  readonly logger: Logger;
  /** The Linear side; null when `approvals.linear` is not configured (approvals are still opened). */
  readonly linear: LinearApprovals | null;
  /** Email (any case) → the Wheelhouse identity that approves (`approvals.identities`). */
  readonly identities: Readonly<Record<string, Identity>>;
  readonly rules: TransitionRules;
  /** `approvals.plan_url` with `{plan_id}`. */
  readonly planUrl: string;
  /** Reads a dry run's diff from the evidence store, for the issue. */
  readonly readEvidence?: ((ref: EvidenceRef) => Promise<Buffer>) | undefined;
  /** Plans waiting for approval now (the plans read model), followed by polling from the start. */
  readonly pendingPlans?: (() => Promise<readonly string[]>) | undefined;
  readonly now?: (() => Date) | undefined;
  /** Durable consumer name; several processes with one name share the work. */
  readonly durable?: string | undefined;
  /** `approvals.linear.poll_interval_ms`; 0 turns polling off. */
  readonly pollIntervalMs?: number | undefined;
}

export interface ApprovalsContext extends ApprovalsDeps {
  readonly prefix: string;
  readonly now: () => Date;
  /** Issues whose transitions polling reads: issue id → the revision it is for. */
  readonly following: Map<string, IssueSubject>;
  /** Transition keys polling has acted on in this process (a webhook or an earlier poll). */
  readonly seen: Set<string>;
  /** The identity of an email, or null when the person is not mapped. */
  identityOf(email: string | null): Identity | null;
}

export function createContext(deps: ApprovalsDeps): ApprovalsContext {
  const identities = new Map(Object.entries(deps.identities).map(([email, id]) => [email.toLowerCase(), id]));
  return {
    ...deps,
    prefix: deps.store.prefix,
    now: deps.now ?? (() => new Date()),
    following: new Map(),
    seen: new Set(),
    identityOf: (email) => (email ? (identities.get(email.toLowerCase()) ?? null) : null),
  };
}

export const readPlan = (ctx: ApprovalsContext, planId: string) => ctx.store.readAggregate("plan", planId);

/** The issue subject of `revision` of a plan (its digest from the revision's steps); null before it is proposed. */
export function subjectOf(planEvents: readonly AnyRecordedEvent[], revision: number): IssueSubject | null {
  for (const e of planEvents) {
    if (e.type === "plan.proposed" && e.payload.revision === revision) {
      const digest = revisionDigest(e.payload);
      return digest === null ? null : { planId: e.payload.plan_id, revision, digest };
    }
  }
  return null;
}

export const issueOf = (ctx: ApprovalsContext, subject: IssueSubject) => issueIdFor(ctx.prefix, subject);

/** The plan, revision and kind of an execution, from its `execution.requested`; null when it has none. */
export async function executionOf(
  ctx: ApprovalsContext,
  executionId: string,
): Promise<{ planId: string; revision: number; dryRun: boolean } | null> {
  const events = await ctx.store.readAggregate("execution", executionId);
  const first = events[0];
  if (first?.type !== "execution.requested") return null;
  return { planId: first.payload.plan_id, revision: first.payload.revision, dryRun: first.payload.dry_run };
}

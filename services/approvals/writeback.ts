/**
 * The plan's progress written back to its Linear issue, whichever channel it
 * came through: each answer as a comment, the outcome as the label
 * (`approval:granted|denied|expired` in place of `approval:pending`), the dry
 * run's diff, and the execution's result. Comment ids derive from the event
 * that caused them, so a redelivered event writes nothing twice. Polling reads
 * the followed issues' history for transitions no webhook brought.
 */
import type { AnyRecordedEvent } from "../../events/index.ts";
import { approvalView, executionStatusOf } from "../../lib/approvals/index.ts";
import { answerTransition } from "./answer.ts";
import { type ApprovalsContext, executionOf, issueOf, readPlan, subjectOf } from "./context.ts";
import { answerComment, diffComment, executionComment, expiredComment } from "./issue.ts";
import { linearId } from "./linear.ts";
import { transitionsOfHistory } from "./transitions.ts";

/** What the issue of a plan shows of `event` (an answer, an expiry, an execution's progress). */
export async function writeBack(ctx: ApprovalsContext, event: AnyRecordedEvent): Promise<void> {
  const linear = ctx.linear;
  if (!linear) return;
  const commentId = linearId(`${ctx.prefix}:comment:${event.id}`);
  switch (event.type) {
    case "approval.granted":
    case "approval.denied":
    case "approval.expired": {
      const events = await readPlan(ctx, event.payload.plan_id);
      const view = approvalView(events);
      const subject = subjectOf(events, event.payload.revision);
      if (!view || !subject || view.revision !== event.payload.revision) return;
      const issueId = issueOf(ctx, subject);
      const body =
        event.type === "approval.expired" ? expiredComment(view) : answerComment(view, event.payload.approver);
      if ((await linear.comment(issueId, commentId, body)) === "no_issue") return;
      if (view.status === "approved" || view.status === "denied" || view.status === "expired") {
        await linear.label(issueId, view.status === "approved" ? "granted" : view.status);
        ctx.following.delete(issueId);
      }
      return;
    }
    case "execution.started":
    case "execution.verified":
    case "execution.verification_failed":
    case "execution.rolled_back":
    case "execution.succeeded":
    case "execution.failed":
    case "execution.cancelled":
    case "evidence.stored": {
      if (event.type === "evidence.stored" && (event.payload.kind !== "diff" || event.aggregate_type !== "execution"))
        return;
      const run = await executionOf(ctx, event.aggregate_id);
      if (!run) return;
      const planEvents = await readPlan(ctx, run.planId);
      const decided = planEvents.find((e) => e.type === "policy.decided" && e.payload.revision === run.revision);
      const subject = subjectOf(planEvents, run.revision);
      // Only plans that waited for approval have an issue.
      if (decided?.type !== "policy.decided" || decided.payload.decision !== "require_approval" || !subject) return;
      let body: string | null = null;
      if (event.type === "evidence.stored") {
        const blob = await ctx.readEvidence?.(event.payload).catch(() => null);
        if (blob) body = diffComment(event.aggregate_id, blob.toString("utf8"));
      } else if (!run.dryRun) {
        const status = executionStatusOf([event]);
        if (status) body = executionComment(event.aggregate_id, status);
      }
      if (body) await linear.comment(issueOf(ctx, subject), commentId, body);
      return;
    }
    default:
      return;
  }
}

/** The event types `writeBack` acts on, besides `policy.decided` (which opens the issue). */
export const WRITE_BACK_TYPES = [
  "approval.granted",
  "approval.denied",
  "approval.expired",
  "execution.started",
  "execution.verified",
  "execution.verification_failed",
  "execution.rolled_back",
  "execution.succeeded",
  "execution.failed",
  "execution.cancelled",
  "evidence.stored",
] as const;

/** Follows the issues of the plans waiting for approval now (at start, so polling covers them). */
export async function followPending(ctx: ApprovalsContext): Promise<void> {
  if (!ctx.linear || !ctx.pendingPlans) return;
  for (const planId of await ctx.pendingPlans()) {
    const events = await readPlan(ctx, planId);
    const view = approvalView(events);
    if (view?.status !== "pending" || view.digest === null) continue;
    const subject = { planId, revision: view.revision, digest: view.digest };
    ctx.following.set(issueOf(ctx, subject), subject);
  }
}

/** One round of the polling fallback: each followed issue's transitions not acted on yet. */
export async function pollOnce(ctx: ApprovalsContext): Promise<void> {
  const linear = ctx.linear;
  if (!linear) return;
  for (const [issueId, subject] of [...ctx.following]) {
    const view = approvalView(await readPlan(ctx, subject.planId));
    if (view?.status !== "pending" || view.revision !== subject.revision) {
      ctx.following.delete(issueId);
      continue;
    }
    const changes = await linear.changes(issueId).catch((error: unknown) => {
      ctx.logger.warn({ err: error, plan_id: subject.planId }, "reading the approval issue failed; next round retries");
      return [];
    });
    for (const t of await transitionsOfHistory(issueId, changes, (id) => linear.emailOf(id))) {
      if (ctx.seen.has(t.key)) continue;
      try {
        await answerTransition(ctx, t, subject);
        ctx.seen.add(t.key);
      } catch (error) {
        ctx.logger.warn(
          { err: error, plan_id: subject.planId },
          "acting on a Linear transition failed; next round retries",
        );
      }
    }
  }
}

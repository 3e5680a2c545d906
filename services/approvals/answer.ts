/**
 * A person's transition on an approval issue becoming an answer: grant or deny
 * through the plan decider, as the Wheelhouse identity the person's email maps
 * to, on channel `linear`, for the digest the issue shows. An unmapped person,
 * or one the decider refuses (no approver role, their own plan, a tier policy
 * keeps out of Linear, a closed window), is told why in a comment on the issue
 * and nothing is recorded. The event's id and idempotency key derive from the
 * issue's revision and the person, so a redelivered webhook, a poll after the
 * webhook, or a restart records the answer once.
 */
import type { Actor } from "../../events/index.ts";
import { approvalIdFor } from "../../lib/approvals/index.ts";
import { decide, envelopeDrafts, type PlanCommand, planDecider } from "../../lib/domain/index.ts";
import { ConflictError, ForbiddenError, ValidationError, type WheelhouseError } from "../../lib/errors/index.ts";
import { handleCommand } from "../../lib/eventstore/index.ts";
import type { LinearWebhookHandoff, LinearWebhookOutcome } from "../../schemas/rpc/approvals.ts";
import { type ApprovalsContext, eventIdFor } from "./context.ts";
import { type IssueSubject, refusalComment, subjectOfIssue } from "./issue.ts";
import { linearId } from "./linear.ts";
import { type IssueTransition, meaningOf, transitionsOfWebhook } from "./transitions.ts";

/** Acts on one transition of the issue for `subject`. */
export async function answerTransition(
  ctx: ApprovalsContext,
  t: IssueTransition,
  subject: IssueSubject,
): Promise<LinearWebhookOutcome> {
  const meaning = meaningOf(t, ctx.rules);
  if (!meaning) return { outcome: "ignored", detail: `${t.kind} "${t.name}" neither grants nor denies` };
  const what = meaning === "grant" ? "approval" : "denial";
  const email = t.email ?? (await ctx.linear?.emailOf(t.actorId)) ?? null;
  const identity = ctx.identityOf(email);
  if (!identity) {
    const why = `${email ?? t.actorName} is not mapped to a Wheelhouse approver`;
    await refuse(ctx, t, subject, what, why, "An administrator can map them in approvals.identities.");
    return { outcome: "refused", detail: why };
  }
  const actor: Actor = {
    kind: "user",
    id: identity.id,
    roles: [...identity.roles],
    ...(identity.groups && identity.groups.length > 0 ? { groups: [...identity.groups] } : {}),
    display_name: t.actorName,
  };
  const key = `approval:linear:${subject.planId}:r${subject.revision}:${identity.id}`;
  const base = {
    planId: subject.planId,
    revision: subject.revision,
    digest: subject.digest,
    channel: "linear" as const,
    actor,
    approvalId: approvalIdFor(subject.planId, subject.revision),
    comment: `in Linear: ${t.kind} ${t.name}`,
    now: ctx.now(),
  };
  const command: PlanCommand =
    meaning === "grant"
      ? { type: "GrantApproval", ...base }
      : { type: "DenyApproval", ...base, reason: `denied in Linear (${t.kind} ${t.name})` };
  for (let attempt = 1; ; attempt++) {
    let decided = false;
    try {
      const { appended } = await handleCommand(
        ctx.store,
        planDecider,
        subject.planId,
        (state) => {
          // This person's answer to this revision is in already (a redelivery, a poll after the webhook).
          if (state.status === "decided" && state.revision === subject.revision) {
            const same = meaning === "grant" ? "granted" : "denied";
            if (state.approvals.some((a) => a.approver === identity.id && a.decision === same)) return [];
          }
          const drafts = decide(command, state);
          decided = true;
          return envelopeDrafts(drafts, subject.planId, {
            actor,
            correlation_id: `linear:${t.key}`,
            id: eventIdFor(key),
          });
        },
        { idempotencyKey: key },
      );
      if (!appended || appended.duplicate) return { outcome: "duplicate", detail: `${identity.id} answered already` };
      ctx.logger.info(
        { plan_id: subject.planId, revision: subject.revision, approver: identity.id, meaning },
        "answer from Linear recorded",
      );
      return { outcome: "recorded", detail: `${what} by ${identity.id} recorded` };
    } catch (error) {
      if (decided && error instanceof ConflictError && attempt < 5) continue;
      if (error instanceof ForbiddenError || error instanceof ConflictError || error instanceof ValidationError) {
        await refuse(ctx, t, subject, what, error.message, fixOf(error));
        return { outcome: "refused", detail: error.message };
      }
      throw error;
    }
  }
}

const fixOf = (error: WheelhouseError) => (error.fix ? `${error.fix[0]?.toUpperCase()}${error.fix.slice(1)}.` : "");

async function refuse(
  ctx: ApprovalsContext,
  t: IssueTransition,
  subject: IssueSubject,
  what: string,
  why: string,
  fix: string,
): Promise<void> {
  ctx.logger.warn({ plan_id: subject.planId, linear_user: t.actorId, why }, "Linear answer refused");
  await ctx.linear?.comment(
    t.issueId,
    linearId(`${ctx.prefix}:refusal:${t.key}`),
    refusalComment(t.actorName, `${what} (${t.kind} "${t.name}")`, why, fix),
  );
}

/** A verified webhook delivery (handed over by the gateway): each approval transition on one of our issues. */
export async function answerWebhook(
  ctx: ApprovalsContext,
  handoff: LinearWebhookHandoff,
): Promise<LinearWebhookOutcome> {
  const transitions = transitionsOfWebhook(handoff.webhook);
  const first = transitions[0];
  if (!first) return { outcome: "ignored", detail: "not a state or label change of an issue" };
  const description = (handoff.webhook.data as { description?: string } | undefined)?.description;
  const subject = ctx.following.get(first.issueId) ?? subjectOfIssue(ctx.prefix, first.issueId, description);
  if (!subject) return { outcome: "ignored", detail: "not a Wheelhouse approval issue" };
  let result: LinearWebhookOutcome = { outcome: "ignored", detail: "no approval transition" };
  for (const t of transitions) {
    ctx.seen.add(t.key);
    const outcome = await answerTransition(ctx, t, subject);
    if (outcome.outcome !== "ignored") result = outcome;
  }
  return result;
}

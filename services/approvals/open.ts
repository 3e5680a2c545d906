/**
 * Opening a revision's approval when policy decides it needs one: the Linear
 * issue (when Linear is configured) under the id derived from the revision,
 * then `approval.requested` with the issue's links, through the plan decider.
 * Both steps are idempotent, so a redelivered `policy.decided` or a restart
 * between them opens nothing twice: the issue id is taken already, and the
 * request is recorded once per revision.
 */
import type { AnyRecordedEvent, EventPayload } from "../../events/index.ts";
import { approvalIdFor, approvalView } from "../../lib/approvals/index.ts";
import { decide, envelopeDrafts, planDecider } from "../../lib/domain/index.ts";
import { ConflictError } from "../../lib/errors/index.ts";
import { handleCommand } from "../../lib/eventstore/index.ts";
import { APPROVALS_ACTOR, type ApprovalsContext, eventIdFor, issueOf, readPlan } from "./context.ts";
import { issueDescription, issueTitle } from "./issue.ts";

type PolicyDecided = AnyRecordedEvent & { type: "policy.decided"; payload: EventPayload<"policy.decided"> };

export type OpenOutcome = "opened" | "already_open" | "not_needed";

export async function openApproval(ctx: ApprovalsContext, event: PolicyDecided): Promise<OpenOutcome> {
  const { plan_id: planId, revision } = event.payload;
  if (event.payload.decision !== "require_approval") return "not_needed";
  const events = await readPlan(ctx, planId);
  const view = approvalView(events);
  // A newer revision, or one already answered or expired, needs no issue any more.
  if (!view || view.revision !== revision || view.status !== "pending" || view.digest === null) return "not_needed";
  const subject = { planId, revision, digest: view.digest };
  const requested = events.find((e) => e.type === "approval.requested" && e.payload.revision === revision);
  const recordedLinks = requested?.type === "approval.requested" ? requested.payload.links : undefined;
  let links: Record<string, string> = {};
  if (ctx.linear) {
    const issueId = issueOf(ctx, subject);
    ctx.following.set(issueId, subject);
    if (recordedLinks?.linear_issue_id === issueId) return "already_open";
    const opened = await ctx.linear.openIssue({
      id: issueId,
      title: issueTitle(view),
      description: issueDescription(view, subject, {
        link: ctx.planUrl.replaceAll("{plan_id}", planId),
        grant: ctx.rules.grant,
        deny: ctx.rules.deny,
        diff: await dryRunDiff(ctx, planId, revision),
      }),
    });
    links = { linear: opened.url, linear_issue: opened.identifier, linear_issue_id: opened.id };
    ctx.logger.info({ plan_id: planId, revision, issue: opened.identifier }, "approval issue opened in Linear");
  }
  if (requested) {
    // Opened by someone else first (without our links): the issue is still found by its derived id.
    return "already_open";
  }
  await requestApproval(ctx, event, links);
  return "opened";
}

async function requestApproval(ctx: ApprovalsContext, event: PolicyDecided, links: Record<string, string>) {
  const { plan_id: planId, revision } = event.payload;
  const key = `approval.requested:${planId}:${revision}`;
  for (let attempt = 1; ; attempt++) {
    let decided = false;
    try {
      await handleCommand(
        ctx.store,
        planDecider,
        planId,
        (state) => {
          const drafts = decide(
            {
              type: "RequestApproval",
              planId,
              revision,
              approvalId: approvalIdFor(planId, revision),
              links,
              actor: APPROVALS_ACTOR,
              now: ctx.now(),
            },
            state,
          );
          decided = true;
          return envelopeDrafts(drafts, planId, {
            actor: APPROVALS_ACTOR,
            correlation_id: event.correlation_id,
            causation_id: event.id,
            id: eventIdFor(key),
          });
        },
        { idempotencyKey: key },
      );
      return;
    } catch (error) {
      // Something was recorded on the plan between the read and the append: decide again on it.
      if (decided && error instanceof ConflictError && attempt < 5) continue;
      throw error;
    }
  }
}

/** The diff of the revision's dry run, when one ran before the issue was opened. */
async function dryRunDiff(ctx: ApprovalsContext, planId: string, revision: number): Promise<string | undefined> {
  if (!ctx.readEvidence) return undefined;
  const events = await ctx.store.readAggregate("execution", `${planId}-r${revision}-dry`);
  const diff = events.find((e) => e.type === "evidence.stored" && e.payload.kind === "diff");
  if (diff?.type !== "evidence.stored") return undefined;
  const blob = await ctx.readEvidence(diff.payload).catch(() => null);
  return blob?.toString("utf8");
}

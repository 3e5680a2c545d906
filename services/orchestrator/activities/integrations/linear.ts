/**
 * `CreateLinearIssueActivity`: the follow-up issue of an incident
 * remediation, in the team approval issues go to. The issue's id is derived
 * from the execution, so a second attempt takes the issue the first opened.
 */
import { linearId } from "../../../../lib/integrations/index.ts";
import type { LinearIssueInput } from "../../../../lib/orchestration/workflow.ts";
import { calling, outgoing, type ResolvedDeps } from "./deps.ts";
import { readNotices } from "./notices.ts";

export const followUpIssueId = (executionId: string): string => linearId(`follow-up:${executionId}`);

export async function createLinearIssue(
  deps: ResolvedDeps,
  input: LinearIssueInput,
): Promise<{ issue_id: string | null; url: string | null }> {
  const linear = deps.clients.linear;
  if (!linear) return { issue_id: null, url: null };
  const notices = await readNotices(deps, input);
  const recorded = notices.find("linear", "follow_up");
  if (recorded) return { issue_id: recorded.payload.ref, url: recorded.payload.url ?? null };

  const issue = await calling(() =>
    linear.open({
      id: followUpIssueId(input.execution_id),
      title: outgoing(input.title),
      description: outgoing(input.description),
    }),
  );
  await notices.record({
    channel: "linear",
    phase: "follow_up",
    ref: issue.id,
    url: issue.url,
    detail: `Linear follow-up issue ${issue.identifier}`,
  });
  deps.logger.info({ execution_id: input.execution_id, issue: issue.identifier }, "opened the Linear follow-up issue");
  return { issue_id: issue.id, url: issue.url };
}

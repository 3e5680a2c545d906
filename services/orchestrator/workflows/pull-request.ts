/**
 * A plan step that proposes a change for review (`git.pull_request`: a
 * GitOps deploy "via PR") as the engine runs it: through
 * `CreateGitPullRequestActivity`, not the tool router, since the step is a
 * branch pushed with git and a pull request opened over GitHub's REST API.
 * It comes after the step's approval re-check, as every write does, and the
 * activity authorises it again as the write of its plan revision's step
 * (`plan.write_authorized`) before it pushes anything. Its answer is shaped
 * as a tool call's, so the step records, fails and rolls back as any other;
 * the activity also records the pull request as `execution.notified`
 * (channel github). Workflow code: no Node built-ins.
 */
import type { PlannedStep, ToolRunSummary } from "../../../lib/orchestration/activities.ts";
import type { GitPullRequestInput } from "../../../lib/orchestration/workflow.ts";
import type { ExecutionRun } from "./run.ts";

/** The step's input as the catalog's schema has it (schemas/tools/git.json; checked when the plan was). */
type PullRequestStepInput = Pick<GitPullRequestInput, "repo" | "base" | "branch" | "title" | "body" | "files">;

export async function openPullRequest(
  run: ExecutionRun,
  step: PlannedStep,
  toolCallId: string,
): Promise<ToolRunSummary> {
  const input = step.input as unknown as PullRequestStepInput;
  const opened = await run.activities.CreateGitPullRequestActivity({
    execution_id: run.exec,
    plan_id: run.input.plan_id,
    revision: run.input.revision,
    step_id: step.step_id,
    repo: input.repo,
    base: input.base,
    branch: input.branch,
    title: input.title,
    body: input.body,
    files: input.files,
    ...run.meta,
  });
  const made = { tool_call_id: toolCallId, exit_code: null, evidence_id: null, reused: false };
  if (opened.url === null) {
    return {
      ...made,
      ok: false,
      status: "refused",
      detail: `no pull request opened in ${input.repo}: GitHub is not configured (set connectors.github.token)`,
    };
  }
  const number = opened.number === null ? "" : ` #${opened.number}`;
  return {
    ...made,
    ok: true,
    status: "succeeded",
    detail: `pull request${number} (${input.branch} into ${input.base}) opened: ${opened.url}`,
  };
}

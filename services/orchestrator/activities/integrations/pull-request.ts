/**
 * `CreateGitPullRequestActivity`: a plan's `git.pull_request` step, first
 * authorised as any write of the plan is (the step's call, its approval
 * holding now, `plan.write_authorized`), then a branch with the step's files
 * pushed with git to the repository's clone URL (`connectors.github.git_base`),
 * then the pull request through GitHub's REST API. A retried attempt reuses, in
 * this order: the recorded notice; the pull request of the branch, when its
 * body carries this execution's and step's marker (an HTML comment, unseen on
 * GitHub); a branch already holding the files (pushed, not yet proposed). A
 * pull request opened by a racing attempt in between (GitHub's 422 "already
 * exists") is looked up and taken. A branch someone else's pull request or
 * other content holds is refused with the fix: another branch name.
 */
import { ValidationError } from "../../../../lib/errors/index.ts";
import { type PullRequest, pushBranch } from "../../../../lib/integrations/index.ts";
import { GIT_PULL_REQUEST_ACTION, type GitPullRequestInput } from "../../../../lib/orchestration/workflow.ts";
import { authoriseOwnWrite } from "../approval.ts";
import { calling, outgoing, type ResolvedDeps } from "./deps.ts";
import { readNotices } from "./notices.ts";

/** The number at the end of a pull request's address (`…/pull/42`). */
function numberOf(url: string): number | null {
  const match = /\/pull\/(\d+)\/?$/.exec(url);
  return match ? Number(match[1]) : null;
}

/** Marks a pull request as this step's of this execution, in its body. */
export const pullRequestMarker = (executionId: string, stepId: string): string =>
  `<!-- wheelhouse execution=${executionId} step=${stepId} -->`;

export async function createGitPullRequest(
  deps: ResolvedDeps,
  input: GitPullRequestInput,
): Promise<{ url: string | null; number: number | null }> {
  const github = deps.clients.github;
  if (!github) return { url: null, number: null };
  const notices = await readNotices(deps, input);
  const recorded = notices.find("github", input.step_id);
  if (recorded) return { url: recorded.payload.ref, number: numberOf(recorded.payload.ref) };
  // A pull request is a write of the plan: authorised as a tool write is, before anything is pushed.
  await authoriseOwnWrite(deps, {
    execution_id: input.execution_id,
    step_id: input.step_id,
    tool_call_id: `${input.execution_id}-${input.step_id}`,
    action_id: GIT_PULL_REQUEST_ACTION,
    input: {
      repo: input.repo,
      base: input.base,
      branch: input.branch,
      title: input.title,
      body: input.body,
      files: input.files,
    },
    dry_run: false,
    purpose: "step",
    plan: { plan_id: input.plan_id, revision: input.revision },
  });

  const marker = pullRequestMarker(input.execution_id, input.step_id);
  const ours = (found: PullRequest | undefined): PullRequest | null => {
    if (!found) return null;
    if ((found.body ?? "").includes(marker)) return found;
    throw new ValidationError(
      `branch "${input.branch}" of ${input.repo} already has pull request #${found.number}, not opened by this step`,
      { field: "branch", fix: "name a branch no other pull request uses, e.g. one with the execution id in it" },
    );
  };
  const pull = await calling(async () => {
    const opened = ours((await github.pulls.findByHead(input.repo, input.branch))[0]);
    if (opened) return opened;
    await pushBranch({
      cloneUrl: github.cloneUrl(input.repo),
      base: input.base,
      branch: input.branch,
      files: input.files,
      message: `${input.title}\n\nWheelhouse execution ${input.execution_id}, plan ${input.plan_id}, step ${input.step_id}`,
      author: github.author,
      token: github.token,
    });
    const proposal = {
      repo: input.repo,
      head: input.branch,
      base: input.base,
      title: outgoing(input.title),
      body: `${outgoing(input.body)}\n\n${marker}`,
    };
    try {
      return await github.pulls.create(proposal);
    } catch (error) {
      const raced = ours((await github.pulls.findByHead(input.repo, input.branch))[0]);
      if (raced) return raced;
      throw error;
    }
  });
  await notices.record({
    channel: "github",
    phase: input.step_id,
    ref: pull.html_url,
    url: pull.html_url,
    detail: `pull request #${pull.number} (${input.branch} into ${input.base}) in ${input.repo}`,
  });
  deps.logger.info({ execution_id: input.execution_id, pull_request: pull.html_url }, "opened a pull request");
  return { url: pull.html_url, number: pull.number };
}

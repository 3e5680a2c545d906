/**
 * `CreateGitPullRequestActivity`: a branch with the step's files, pushed
 * with git to the repository's clone URL (`connectors.github.git_base`), then
 * the pull request through GitHub's REST API. A retried attempt reuses, in
 * this order: the recorded notice; a pull request already open (or closed)
 * for the branch; a branch already holding the files (pushed, not yet
 * proposed). A pull request opened by a racing attempt in between (GitHub's
 * 422 "already exists") is looked up and taken.
 */
import { pushBranch } from "../../../../lib/integrations/index.ts";
import type { GitPullRequestInput } from "../../workflows/contract.ts";
import { calling, outgoing, type ResolvedDeps } from "./deps.ts";
import { readNotices } from "./notices.ts";

/** The number at the end of a pull request's address (`…/pull/42`). */
function numberOf(url: string): number | null {
  const match = /\/pull\/(\d+)\/?$/.exec(url);
  return match ? Number(match[1]) : null;
}

export async function createGitPullRequest(
  deps: ResolvedDeps,
  input: GitPullRequestInput,
): Promise<{ url: string | null; number: number | null }> {
  const github = deps.clients.github;
  if (!github) return { url: null, number: null };
  const notices = await readNotices(deps, input);
  const recorded = notices.find("github", input.step_id);
  if (recorded) return { url: recorded.payload.ref, number: numberOf(recorded.payload.ref) };

  const pull = await calling(async () => {
    const opened = (await github.pulls.findByHead(input.repo, input.branch))[0];
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
      body: outgoing(input.body),
    };
    try {
      return await github.pulls.create(proposal);
    } catch (error) {
      const raced = (await github.pulls.findByHead(input.repo, input.branch))[0];
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

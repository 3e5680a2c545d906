/**
 * git: the catalog's `git.pull_request` is a write the orchestrator makes
 * itself (a branch pushed with git, then GitHub's REST API: its
 * CreateGitPullRequestActivity), after the same approval re-check and
 * authorisation a tool write gets. No argv is ever built for it: a call
 * that reaches the tool router is refused with where it runs instead.
 */
import { ValidationError } from "../../errors/index.ts";
import { unknownAction } from "./input.ts";

export function buildGitCmd(action: string): string[] {
  if (action === "pull_request") {
    throw new ValidationError("git.pull_request is not run by the tool router", {
      field: "action_id",
      fix: "run it as a plan step: the orchestrator pushes the branch and opens the pull request (connectors.github)",
    });
  }
  return unknownAction("git", action);
}

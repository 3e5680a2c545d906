/** gh: pull requests (the API fallback in the tool router asks for the same fields). */
import { type BuildOptions, bool, req, str, unknownAction, validateToolInput } from "./input.ts";

/** Fields `gh pr view --json` asks for; the API fallback returns the same names. */
export const GH_PR_VIEW_FIELDS = ["number", "title", "state", "url", "isDraft", "headRefName", "baseRefName"] as const;

/** `gh …` for one catalog action. */
export function buildGhCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`gh.${action}`, rawInput, opts);
  const repo = `--repo=${req(input, "repo")}`;
  switch (action) {
    case "pr_create":
      return [
        "gh",
        "pr",
        "create",
        repo,
        `--base=${req(input, "base")}`,
        `--head=${req(input, "head")}`,
        `--title=${req(input, "title")}`,
        `--body=${str(input, "body") ?? ""}`,
        ...(bool(input, "draft", false) ? ["--draft"] : []),
      ];
    case "pr_view":
      return ["gh", "pr", "view", req(input, "number"), repo, `--json=${GH_PR_VIEW_FIELDS.join(",")}`];
    default:
      return unknownAction("gh", action);
  }
}

/**
 * Clients of the outside services an execution tells about itself: Grafana
 * annotations, PagerDuty events, Linear issues, and GitHub pull requests with
 * the git branch they propose. Each is a small factory over its provider's
 * documented wire format; `integrationsFromConfig` builds the ones a
 * configuration turns on.
 */
export {
  describeIntegrations,
  type GitHubIntegration,
  type IntegrationClients,
  integrationsFromConfig,
} from "./config.ts";
export { type BranchFile, type BranchPush, type PushedBranch, pushBranch } from "./git.ts";
export {
  createGithubPulls,
  type GithubPulls,
  type GithubSettings,
  type NewPullRequest,
  type PullRequest,
  splitRepo,
} from "./github.ts";
export {
  createGrafanaAnnotations,
  type GrafanaAnnotation,
  type GrafanaAnnotations,
  type GrafanaSettings,
  type NewAnnotation,
} from "./grafana.ts";
export {
  createLinearIssues,
  type LinearIssueRef,
  type LinearIssueSettings,
  type LinearIssues,
  linearId,
} from "./linear.ts";
export {
  createPagerDutyEvents,
  PAGERDUTY_EVENTS_BASE,
  type PagerDutyEvents,
  type PagerDutySettings,
  type PagerDutySeverity,
  type PagerDutyTrigger,
} from "./pagerduty.ts";

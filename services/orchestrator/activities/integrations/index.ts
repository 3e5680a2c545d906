/**
 * The integration activities: how an execution tells the outside about
 * itself. Grafana annotations at its start and end, a PagerDuty incident when
 * a rollback fails or verification stays inconclusive, a Linear follow-up
 * issue after an incident remediation, and pull requests a plan proposes.
 *
 * Each answers null fields when its connector is off and records nothing (the
 * start-up log line says which are on). Otherwise it makes the call and
 * appends `execution.notified`, once per execution, channel and phase; a
 * retried attempt reads that event first and reuses it (notices.ts), so no
 * second annotation, incident, issue or pull request is made. A provider's
 * refusal (bad input, bad credentials) is a non-retryable `IntegrationRejected`
 * failure; an outage is retried by Temporal.
 */
import type { IntegrationActivities } from "../../../../lib/orchestration/workflow.ts";
import type { IntegrationActivityDeps } from "./deps.ts";
import { createGrafanaAnnotation } from "./grafana.ts";
import { createLinearIssue } from "./linear.ts";
import { createPagerDutyIncident } from "./pagerduty.ts";
import { createGitPullRequest } from "./pull-request.ts";

export { INTEGRATION_REJECTED, type IntegrationActivityDeps } from "./deps.ts";

export function createIntegrationActivities(deps: IntegrationActivityDeps) {
  const resolved = { ...deps, now: deps.now ?? (() => new Date()) };
  return {
    CreateGrafanaAnnotationActivity: (input) => createGrafanaAnnotation(resolved, input),
    CreatePagerDutyIncidentActivity: (input) => createPagerDutyIncident(resolved, input),
    CreateLinearIssueActivity: (input) => createLinearIssue(resolved, input),
    CreateGitPullRequestActivity: (input) => createGitPullRequest(resolved, input),
  } satisfies IntegrationActivities;
}

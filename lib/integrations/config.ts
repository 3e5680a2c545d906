/**
 * The integration clients a configuration turns on, each null when its
 * section is off: Grafana when `connectors.grafana.url` is set, PagerDuty when
 * `connectors.pagerduty.routing_key` is, Linear when `approvals.linear` is
 * (enabled, or a team key), GitHub when `connectors.github.token` resolves.
 * A section that is on but names a secret that is not there stops start-up
 * with the field and the fix (`requireSecret`), rather than failing the first
 * execution that needs it.
 */
import { type Config, requireSecret, resolveSecret } from "../config/index.ts";
import { ConfigError } from "../errors/index.ts";
import { createGithubPulls, type GithubPulls, splitRepo } from "./github.ts";
import { createGrafanaAnnotations, type GrafanaAnnotations } from "./grafana.ts";
import { createLinearIssues, type LinearIssues } from "./linear.ts";
import { createPagerDutyEvents, PAGERDUTY_EVENTS_BASE, type PagerDutyEvents } from "./pagerduty.ts";

/** What opening a pull request needs: the REST API, where to push, and as whom. */
export interface GitHubIntegration {
  readonly pulls: GithubPulls;
  /** The clone URL of `owner/name`. */
  cloneUrl(repo: string): string;
  readonly token: string;
  readonly author: { readonly name: string; readonly email: string };
}

export interface IntegrationClients {
  readonly grafana: GrafanaAnnotations | null;
  readonly pagerduty: PagerDutyEvents | null;
  readonly linear: LinearIssues | null;
  readonly github: GitHubIntegration | null;
}

type Env = Readonly<Record<string, string | undefined>>;

export function integrationsFromConfig(config: Config, env: Env = process.env): IntegrationClients {
  const { grafana, pagerduty, github } = config.connectors;
  const linear = config.approvals.linear;
  const githubToken = resolveSecret(github.token, env);
  const linearOn = linear.enabled || linear.team_key !== undefined;
  if (linearOn && !linear.team_key) {
    throw new ConfigError("approvals.linear is enabled without a team", [
      {
        field: "approvals.linear.team_key",
        message: "is required when approvals.linear.enabled is true",
        fix: "set approvals.linear.team_key to the key of the team issues go to (e.g. OPS)",
      },
    ]);
  }
  return {
    grafana: grafana.url
      ? createGrafanaAnnotations({ url: grafana.url, token: resolveSecret(grafana.token, env) })
      : null,
    pagerduty: pagerduty.routing_key
      ? createPagerDutyEvents({
          apiBase: pagerduty.api_base ?? PAGERDUTY_EVENTS_BASE,
          routingKey: requireSecret(pagerduty.routing_key, "connectors.pagerduty.routing_key", env),
        })
      : null,
    linear:
      linearOn && linear.team_key
        ? createLinearIssues({
            apiUrl: linear.api_url,
            apiKey: requireSecret(linear.api_key, "approvals.linear.api_key", env),
            teamKey: linear.team_key,
          })
        : null,
    github: githubToken
      ? {
          pulls: createGithubPulls({ apiBase: github.api_base, token: githubToken }),
          cloneUrl: (repo) => {
            const { owner, name } = splitRepo(repo);
            return `${github.git_base.replace(/\/+$/, "")}/${owner}/${name}.git`;
          },
          token: githubToken,
          author: github.commit_author,
        }
      : null,
  };
}

/** Which integrations are on, for the start-up log line. */
export function describeIntegrations(clients: IntegrationClients): Record<keyof IntegrationClients, "on" | "off"> {
  return {
    grafana: clients.grafana ? "on" : "off",
    pagerduty: clients.pagerduty ? "on" : "off",
    linear: clients.linear ? "on" : "off",
    github: clients.github ? "on" : "off",
  };
}

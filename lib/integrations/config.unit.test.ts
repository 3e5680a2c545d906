/** Which integrations a configuration turns on, and the connector fields they read. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../config/index.ts";
import { ConfigError } from "../errors/index.ts";
import { describeIntegrations, integrationsFromConfig } from "./index.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

describe("connectors configuration", () => {
  it("defaults: GitHub's public addresses, the Wheelhouse commit author, PagerDuty without a routing key", () => {
    const { github, pagerduty } = parseConfig({}).connectors;
    assert.equal(github.git_base, "https://github.com");
    assert.deepEqual(github.commit_author, { name: "Wheelhouse", email: "wheelhouse@users.noreply.github.com" });
    assert.equal(pagerduty.routing_key, undefined);
  });

  it("refuses a literal routing key, naming the field and how to refer to a secret", () => {
    const error = configError(() => parseConfig({ connectors: { pagerduty: { routing_key: "0123456789abcdef" } } }));
    assert.equal(error.issues[0]?.field, "connectors.pagerduty.routing_key");
    assert.match(error.issues[0]?.fix ?? "", /env:VAR_NAME/);
  });

  it("refuses a git_base that is not a URL", () => {
    const error = configError(() => parseConfig({ connectors: { github: { git_base: "/srv/git" } } }));
    assert.equal(error.issues[0]?.field, "connectors.github.git_base");
  });
});

describe("integrationsFromConfig", () => {
  it("turns nothing on by default", () => {
    assert.deepEqual(describeIntegrations(integrationsFromConfig(parseConfig({}), {})), {
      grafana: "off",
      pagerduty: "off",
      linear: "off",
      github: "off",
    });
  });

  it("turns each on from its section, with its secret resolved", () => {
    const config = parseConfig({
      connectors: {
        grafana: { url: "http://127.0.0.1:3000", token: "env:GRAFANA_TOKEN" },
        pagerduty: { api_base: "http://127.0.0.1:9", routing_key: "env:PD_KEY" },
        github: { token: "env:GH_TOKEN", git_base: "file:///srv/git/" },
      },
      approvals: { linear: { team_key: "OPS", api_key: "env:LINEAR_KEY" } },
    });
    const env = { GRAFANA_TOKEN: "glsa_x", PD_KEY: "k".repeat(32), GH_TOKEN: "ghp_x", LINEAR_KEY: "lin_api_x" };
    const clients = integrationsFromConfig(config, env);
    assert.deepEqual(describeIntegrations(clients), { grafana: "on", pagerduty: "on", linear: "on", github: "on" });
    assert.equal(clients.github?.cloneUrl("acme/deploys"), "file:///srv/git/acme/deploys.git");
  });

  it("stops start-up when a configured routing key's secret is missing", () => {
    const config = parseConfig({ connectors: { pagerduty: { routing_key: "env:PD_KEY" } } });
    const error = configError(() => integrationsFromConfig(config, {}));
    assert.equal(error.issues[0]?.field, "connectors.pagerduty.routing_key");
    assert.match(error.issues[0]?.fix ?? "", /export PD_KEY=/);
  });

  it("leaves GitHub off while its token variable is unset", () => {
    assert.equal(integrationsFromConfig(parseConfig({}), {}).github, null);
  });

  it("refuses a clone URL for a repository that is not owner/name", () => {
    const config = parseConfig({ connectors: { github: { token: "env:GH_TOKEN" } } });
    const github = integrationsFromConfig(config, { GH_TOKEN: "ghp_x" }).github;
    assert.throws(() => github?.cloneUrl("../etc"), /not owner\/name/);
  });
});

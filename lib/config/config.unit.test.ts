import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../errors/index.ts";
import { loadConfig, parseConfig, requireSecret, resolveSecret } from "./index.ts";

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "wh-config-"));
  const file = join(dir, "wheelhouse.yaml");
  writeFileSync(file, text);
  return file;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

describe("loadConfig", () => {
  it("runs the embedded profile with no file and no environment", () => {
    const config = loadConfig(undefined, {});
    assert.equal(config.profile, "embedded");
    assert.equal(config.gateway.port, 8320);
    assert.deepEqual(config.nats.url, ["nats://127.0.0.1:4322"]);
    assert.equal(config.nats.events_sync, "always");
    assert.equal(config.llm.provider, "none");
    assert.deepEqual(config.llm.redact_patterns, []);
    assert.equal(config.storage.evidence.kind, "local");
    assert.equal(config.orchestrator.temporal_address, "127.0.0.1:7322");
    assert.equal(config.chatops.slack.enabled, false);
  });

  it("turns the development issuer on in the embedded profile only", () => {
    assert.equal(loadConfig(undefined, {}).gateway.auth.mode, "dev");
    assert.equal(loadConfig(undefined, { WHEELHOUSE_PROFILE: "production" }).gateway.auth.mode, "oidc");
    assert.equal(
      loadConfig(undefined, { WHEELHOUSE_PROFILE: "production", WHEELHOUSE_GATEWAY__AUTH__MODE: "dev" }).gateway.auth
        .mode,
      "dev",
    );
  });

  it("points the orchestrator at this configuration's tool router unless told otherwise", () => {
    assert.equal(loadConfig(undefined, {}).orchestrator.tool_router_url, "http://127.0.0.1:8324");
    assert.equal(
      loadConfig(undefined, { WHEELHOUSE_TOOLS__ROUTER_PORT: "9999" }).orchestrator.tool_router_url,
      "http://127.0.0.1:9999",
    );
  });

  it("reads a YAML file and keeps defaults for what it does not set", () => {
    const file = yamlFile(
      "gateway:\n  port: 9000\nllm:\n  provider: openai\n  model: gpt-5\n  api_key: env:OPENAI_API_KEY\n",
    );
    const config = loadConfig(file, {});
    assert.equal(config.gateway.port, 9000);
    assert.equal(config.gateway.host, "127.0.0.1");
    assert.equal(config.llm.provider, "openai");
    assert.equal(config.llm.timeout_ms, 30_000);
  });

  it("takes the file from WHEELHOUSE_CONFIG", () => {
    const file = yamlFile("profile: production\n");
    assert.equal(loadConfig(undefined, { WHEELHOUSE_CONFIG: file }).profile, "production");
  });

  it("lets WHEELHOUSE_SECTION__FIELD override the file, parsed as YAML scalars", () => {
    const file = yamlFile("gateway:\n  port: 9000\n");
    const config = loadConfig(file, {
      WHEELHOUSE_GATEWAY__PORT: "9100",
      WHEELHOUSE_NATS__URL: "nats://10.0.0.5:4222",
      WHEELHOUSE_LLM__REDACT_PATTERNS: "['acme-[0-9]+']",
      WHEELHOUSE_CHATOPS__SLACK__ENABLED: "true",
      WHEELHOUSE_S3_ACCESS_KEY: "not-an-override",
      WHEELHOUSE_TOKEN: "the CLI's, not config",
      WHEELHOUSE_URL: "http://127.0.0.1:8320",
    });
    assert.equal(config.gateway.port, 9100);
    assert.deepEqual(config.nats.url, ["nats://10.0.0.5:4222"]);
    assert.deepEqual(config.llm.redact_patterns, ["acme-[0-9]+"]);
    assert.equal(config.chatops.slack.enabled, true);
  });
});

describe("nats.url", () => {
  it("takes a list of servers: comma-separated (as an environment variable) or a YAML list", () => {
    const servers = ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222", "nats://10.0.0.7:4222"];
    assert.deepEqual(loadConfig(undefined, { WHEELHOUSE_NATS__URL: servers.join(", ") }).nats.url, servers);
    const file = yamlFile(`nats:\n  url:\n${servers.map((s) => `    - ${s}\n`).join("")}`);
    assert.deepEqual(loadConfig(file, {}).nats.url, servers);
    assert.deepEqual(loadConfig(undefined, { WHEELHOUSE_NATS__URL: `[${servers.join(", ")}]` }).nats.url, servers);
  });
});

describe("invalid configuration names the field, the problem and the fix", () => {
  const cases: { name: string; doc: unknown; field: string; fix: RegExp }[] = [
    { name: "wrong type", doc: { gateway: { port: "eighty" } }, field: "gateway.port", fix: /gateway\.port/ },
    { name: "out of range", doc: { gateway: { port: 70000 } }, field: "gateway.port", fix: /gateway\.port/ },
    { name: "typo in a field", doc: { gateway: { prot: 1 } }, field: "gateway.prot", fix: /did you mean "port"/ },
    { name: "unknown section", doc: { gatewya: {} }, field: "gatewya", fix: /did you mean "gateway"/ },
    { name: "bad enum", doc: { llm: { provider: "gemini" } }, field: "llm.provider", fix: /llm\.provider/ },
    {
      name: "literal secret",
      doc: { llm: { api_key: "sk-live-123" } },
      field: "llm.api_key",
      fix: /llm\.api_key/,
    },
    { name: "bad url", doc: { nats: { url: "localhost" } }, field: "nats.url", fix: /nats\.url/ },
    {
      name: "bad server in a list",
      doc: { nats: { url: ["nats://10.0.0.5:4222", "localhost"] } },
      field: "nats.url",
      fix: /not one: localhost/,
    },
    { name: "no server", doc: { nats: { url: " , " } }, field: "nats.url", fix: /at least one server/ },
    {
      name: "nested fallback",
      doc: { llm: { fallback: [{ provider: "anthropic", timeout_ms: -1 }] } },
      field: "llm.fallback.0.timeout_ms",
      fix: /timeout_ms/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const error = configError(() => parseConfig(c.doc));
      assert.equal(error.issues[0]?.field, c.field);
      assert.match(error.issues[0]?.fix ?? "", c.fix);
      assert.match(error.message, new RegExp(c.field.replaceAll(".", "\\.")));
    });
  }

  it("explains that a literal secret must be a reference", () => {
    const error = configError(() => parseConfig({ llm: { api_key: "sk-live-123" } }));
    assert.match(error.message, /env:VAR_NAME or file:|`env:VAR_NAME`/);
    assert.doesNotMatch(error.message, /sk-live-123/, "the secret itself is never echoed");
  });

  it("reports every problem at once, not just the first", () => {
    const error = configError(() => parseConfig({ gateway: { port: 0 }, log: { level: "loud" } }));
    assert.deepEqual(
      error.issues.map((i) => i.field),
      ["gateway.port", "log.level"],
    );
  });

  it("names a missing file", () => {
    const error = configError(() => loadConfig("/nonexistent/wheelhouse.yaml", {}));
    assert.match(error.message, /cannot read config file \/nonexistent\/wheelhouse\.yaml \(ENOENT\)/);
  });

  it("names the line of a YAML syntax error", () => {
    const error = configError(() => loadConfig(yamlFile("gateway:\n  port: [1,\n"), {}));
    assert.match(error.message, /not valid YAML at line \d+/);
  });

  it("refuses a YAML document that is not a mapping", () => {
    const error = configError(() => loadConfig(yamlFile("- a\n- b\n"), {}));
    assert.match(error.message, /mapping/);
  });

  it("names a misspelt section in an environment override", () => {
    const error = configError(() => loadConfig(undefined, { WHEELHOUSE_GATEWYA__PORT: "9000" }));
    assert.equal(error.issues[0]?.field, "gatewya");
    assert.match(error.issues[0]?.fix ?? "", /did you mean "gateway"/);
  });

  it("names an environment override that does not fit", () => {
    const error = configError(() => loadConfig(undefined, { WHEELHOUSE_GATEWAY__PORT: "abc" }));
    assert.equal(error.issues[0]?.field, "gateway.port");
  });
});

describe("secrets", () => {
  it("resolves env and file references, and null when absent", () => {
    const file = yamlFile("s3cr3t\n");
    assert.equal(resolveSecret("env:TOKEN", { TOKEN: "abc" }), "abc");
    assert.equal(resolveSecret(`file:${file}`, {}), "s3cr3t");
    assert.equal(resolveSecret("env:MISSING", {}), null);
    assert.equal(resolveSecret("file:/nonexistent", {}), null);
    assert.equal(resolveSecret(undefined, {}), null);
  });

  it("says how to provide a required secret that is missing", () => {
    const error = configError(() => requireSecret("env:SLACK_BOT_TOKEN", "chatops.slack.bot_token", {}));
    assert.equal(error.issues[0]?.field, "chatops.slack.bot_token");
    assert.match(error.issues[0]?.fix ?? "", /export SLACK_BOT_TOKEN=/);
  });
});

/** The memoryless scrubbers: tool output (with the call's injected secrets) and logs. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadCorpus } from "../../test/fixtures/redaction/corpus.ts";
import {
  createLineScrubber,
  createRedactor,
  createScrubber,
  createSecretScrubber,
  defaultScrub,
  INJECTED_SECRET,
} from "./index.ts";
import { secretlintAsynchronousResults } from "./secretlint.ts";

describe("secret scrubber", () => {
  const cases: { name: string; text: string; leaked: string }[] = [
    { name: "AWS access key id", text: "key AKIAIOSFODNN7EXAMPLE ok", leaked: "IOSFODNN7EXAMPLE" },
    {
      name: "GitHub token",
      text: "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      leaked: "abcdefghijklmnopqrstuvwxyz0123",
    },
    {
      name: "Vault token",
      text: "VAULT_TOKEN=hvs.CAESIJlWh1bXx0ZXN0dG9rZW4xMjM0",
      leaked: "CAESIJlWh1bXx0ZXN0dG9rZW4xMjM0",
    },
    { name: "bearer header", text: "Authorization: Bearer abc.def.ghi-jkl-mno-42", leaked: "abc.def.ghi-jkl-mno" },
    { name: "JSON password", text: '{"username":"app","password":"pw-ultra-secret-77"}', leaked: "pw-ultra-secret-77" },
    { name: "key=value secret", text: "client_secret=s3cr3tv4lue9Xq2", leaked: "s3cr3tv4lue" },
    {
      name: "PEM private key",
      text: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
      leaked: "MIIEow",
    },
  ];
  for (const c of cases) {
    it(`scrubs a ${c.name}`, () => {
      const out = defaultScrub(c.text);
      assert.equal(out.includes(c.leaked), false, out);
      assert.match(out, /\[REDACTED:[a-z0-9_]+\]/);
    });
  }

  it("scrubs known values anywhere, and leaves ordinary output alone", () => {
    const scrub = createSecretScrubber(["tok-4f9a8b7c", "ab"]);
    assert.equal(scrub("x tok-4f9a8b7c y tok-4f9a8b7c"), `x ${INJECTED_SECRET} y ${INJECTED_SECRET}`);
    assert.equal(scrub("deployment.apps/checkout scaled (ab)"), "deployment.apps/checkout scaled (ab)");
  });

  it("scrubs known values that overlap in the text together, leaving no part of either", () => {
    const scrub = createSecretScrubber(["tok-AAAA1111", "1111-BBBB"]);
    assert.equal(scrub("x tok-AAAA1111-BBBB y"), `x ${INJECTED_SECRET} y`);
    // A value overlapping itself, and two values back to back (two placeholders, as before).
    assert.equal(createSecretScrubber(["abcab"])("<abcabcab>"), `<${INJECTED_SECRET}>`);
    assert.equal(scrub("tok-AAAA11111111-BBBB"), `${INJECTED_SECRET}${INJECTED_SECRET}`);
  });

  it("scrubs every line of a multi-line known value, as tool output is redacted line by line", () => {
    const key = [
      "-----BEGIN OPENSSH PRIVATE KEY-----",
      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
      "QyNTUxOQAAACDmq1cN2bX0QeXl9WmFkT3sZk0yUu3Zo6d6uK2G8kq0dAAAAJjq5w1r6ucN",
      "-----END OPENSSH PRIVATE KEY-----",
    ].join("\n");
    const scrub = createSecretScrubber([key]);
    for (const line of key.split("\n")) {
      const out = scrub(`  ${line}`);
      assert.equal(out.includes(line), false, out);
    }
    assert.equal(scrub("deployment.apps/checkout scaled"), "deployment.apps/checkout scaled");
  });

  it("adds the configured patterns to a tool scrubber", () => {
    const scrub = createSecretScrubber([], ["ACME-[0-9]{6}"]);
    assert.equal(scrub("ticket ACME-123456 closed"), "ticket [REDACTED:custom] closed");
  });

  it("has no memory: the same kind always reads the same", () => {
    const scrub = createScrubber();
    const a = `ghp_${"a1B2c3D4e5".repeat(4).slice(0, 36)}`;
    const b = `ghp_${"Z9y8X7w6V5".repeat(4).slice(0, 36)}`;
    assert.equal(scrub(`${a} ${b}`), "[REDACTED:github_token] [REDACTED:github_token]");
  });

  it("redacts a private key printed line by line, from BEGIN to END, and nothing after it", () => {
    const key = (loadCorpus().kinds.find((k) => k.kind === "rsa_private_key")?.text ?? "").split("\n");
    const scrub = createLineScrubber();
    const out = [...key, "deployment.apps/checkout restarted"].map(scrub);
    assert.equal(out.at(-1), "deployment.apps/checkout restarted");
    for (const line of key.filter((l) => l.length > 40)) assert.equal(out.includes(line), false, line);
  });

  it("takes a secret flag in an argv as the context of the next argument", () => {
    const secret = "Zq8wL3xv9RkP2mT7nB4cD6fH";
    const argv = ["argocd", "login", "argocd.acme.dev", "--password", secret, "--grpc-web"];
    const out = createRedactor().redactValue(argv);
    assert.equal(out.includes(secret), false, out.join(" "));
    assert.deepEqual(out.slice(0, 4), argv.slice(0, 4));
    assert.equal(out[5], "--grpc-web");
    // Not every flag: `--namespace shop` stays.
    assert.deepEqual(createRedactor().redactValue(["kubectl", "-n", "shop", "--context", "prod-eu-1"]), [
      "kubectl",
      "-n",
      "shop",
      "--context",
      "prod-eu-1",
    ]);
  });

  it("runs secretlint's scanners synchronously (none answered with a promise)", () => {
    defaultScrub("postgres://app:S3cr3t-P4ss@db.internal/app and a key xoxb-1234567890-abcdefghijk");
    assert.equal(secretlintAsynchronousResults(), 0);
  });
});

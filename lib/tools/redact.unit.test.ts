import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createSecretScrubber, defaultRedactor } from "./redact.ts";

describe("secret scrubber", () => {
  const cases: { name: string; text: string; leaked: string }[] = [
    { name: "AWS access key id", text: "key AKIAIOSFODNN7EXAMPLE ok", leaked: "IOSFODNN7EXAMPLE" },
    {
      name: "GitHub token",
      text: "token ghp_abcdefghijklmnopqrstuvwxyz0123",
      leaked: "abcdefghijklmnopqrstuvwxyz0123",
    },
    {
      name: "Vault token",
      text: "VAULT_TOKEN=hvs.CAESIJlWh1bXx0ZXN0dG9rZW4xMjM0",
      leaked: "CAESIJlWh1bXx0ZXN0dG9rZW4xMjM0",
    },
    { name: "bearer header", text: "Authorization: Bearer abc.def.ghi-jkl-mno", leaked: "abc.def.ghi-jkl-mno" },
    { name: "JSON password", text: '{"username":"app","password":"pw-ultra-secret-77"}', leaked: "pw-ultra-secret-77" },
    { name: "key=value secret", text: "client_secret=s3cr3tv4lue", leaked: "s3cr3tv4lue" },
    {
      name: "PEM private key",
      text: "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
      leaked: "MIIEow",
    },
  ];
  for (const c of cases) {
    it(`scrubs a ${c.name}`, () => {
      const out = defaultRedactor(c.text);
      assert.equal(out.includes(c.leaked), false, out);
      assert.match(out, /\[redacted\]/);
    });
  }

  it("scrubs known values anywhere, and leaves ordinary output alone", () => {
    const scrub = createSecretScrubber(["tok-4f9a8b7c", "ab"]);
    assert.equal(scrub("x tok-4f9a8b7c y tok-4f9a8b7c"), "x [redacted] y [redacted]");
    assert.equal(scrub("deployment.apps/checkout scaled (ab)"), "deployment.apps/checkout scaled (ab)");
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
});

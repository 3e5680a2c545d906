/**
 * TestRedaction: a corpus of realistic secrets in realistic surroundings
 * (test/fixtures/redaction/secrets, listed in manifest.json) must never reach
 * the LLM provider, the logs or the plan; a clean corpus of ordinary ops text
 * must come through untouched (the false-positive rate is reported).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { answer, GOOD_PLAN, STAGING_CONTEXT } from "../../test/fixtures/llm/plans.ts";
import { type FixtureServer, startFixtureServer } from "../../test/fixtures/llm/server.ts";
import { parseConfig } from "../config/index.ts";
import { createLogger } from "../log/index.ts";
import { createPlanner } from "../planner/index.ts";
import { loadCatalog } from "../tools/index.ts";
import { OpenAIClient } from "./openai.ts";
import { compileRedactPatterns, createRedactor, createScrubber, redact } from "./redact.ts";
import { createLLMRouter } from "./router.ts";

const ROOT = fileURLToPath(new URL("../../test/fixtures/redaction/", import.meta.url));
const manifest = JSON.parse(readFileSync(join(ROOT, "manifest.json"), "utf8")) as Record<string, string[]>;
const corpus = Object.entries(manifest).map(([file, secrets]) => ({
  file,
  text: readFileSync(join(ROOT, file), "utf8"),
  secrets,
}));
const allSecrets = corpus.flatMap((c) => c.secrets);
const clean = readdirSync(join(ROOT, "clean")).map((f) => ({
  file: f,
  text: readFileSync(join(ROOT, "clean", f), "utf8"),
}));

/** A secret leaked if it, or any 16-character window of it, survives. */
function leaked(haystack: string, secret: string): boolean {
  if (haystack.includes(secret)) return true;
  const core = secret.replace(/\\n/g, "\n");
  // A base64-encoded PEM starts with the same header as a (public) certificate: look past it.
  for (let i = core.startsWith("LS0t") ? 64 : 0; i + 16 <= core.length; i += 8) {
    const window = core.slice(i, i + 16);
    if (/^[\s-]*$/.test(window) || /BEGIN|END|PRIVATE KEY/.test(window)) continue;
    if (haystack.includes(window)) return true;
  }
  return false;
}

describe("TestRedaction", () => {
  test(`the corpus holds at least 60 secrets in at least 15 files`, () => {
    assert.ok(allSecrets.length >= 60, `${allSecrets.length} secrets`);
    assert.ok(corpus.length >= 15, `${corpus.length} files`);
  });

  for (const { file, text, secrets } of corpus) {
    test(`every secret in ${file} is redacted`, () => {
      const out = createRedactor().redact(text);
      for (const secret of secrets)
        assert.ok(!leaked(out, secret), `${file}: ${secret.slice(0, 12)}... survived:\n${out}`);
      assert.match(out, /\[REDACTED:[a-z_]+:\d+\]/);
    });
  }

  test("the clean corpus is left alone (false-positive rate)", (t) => {
    let lines = 0;
    let changed = 0;
    const where: string[] = [];
    for (const { file, text } of clean) {
      const out = createRedactor().redact(text);
      const a = text.split("\n");
      const b = out.split("\n");
      lines += a.length;
      a.forEach((line, i) => {
        if (line !== b[i]) {
          changed++;
          where.push(`${file}: ${line}`);
        }
      });
    }
    const rate = changed / lines;
    t.diagnostic(
      `false positives: ${changed} of ${lines} clean lines (${(rate * 100).toFixed(2)}%) in ${clean.length} files`,
    );
    assert.ok(lines >= 200, `${lines} clean lines`);
    assert.ok(rate <= 0.01, `false-positive rate ${rate}: ${where.join("\n")}`);
  });

  test("the same secret gets the same placeholder within a request, numbered per kind", () => {
    const r = createRedactor();
    const token = `ghp_${"a1B2c3D4e5".repeat(4).slice(0, 36)}`;
    const other = `ghp_${"Z9y8X7w6V5".repeat(4).slice(0, 36)}`;
    assert.equal(r.redact(`GITHUB_TOKEN=${token}`), "GITHUB_TOKEN=[REDACTED:github_token:1]");
    assert.equal(
      r.redact(`token ${token} and ${other}`),
      "token [REDACTED:github_token:1] and [REDACTED:github_token:2]",
    );
    assert.deepEqual(r.stats(), { github_token: 2 });
    // A fresh request starts over; a redacted text stays as it is.
    assert.equal(redact(`x ${other}`), "x [REDACTED:github_token:1]");
    assert.equal(r.redact(r.redact(`PASSWORD=${token}`)), "PASSWORD=[REDACTED:github_token:1]");
  });

  test("configured redact_patterns add to the defaults; a named group s redacts only that part", () => {
    const r = createRedactor(["ACME-[0-9]{6}", "customer_ref=(?<s>[a-z]+)"]);
    assert.equal(
      r.redact("ticket ACME-123456 customer_ref=bob"),
      "ticket [REDACTED:custom:1] customer_ref=[REDACTED:custom:2]",
    );
    assert.throws(
      () => compileRedactPatterns(["(unclosed"]),
      /llm\.redact_patterns\[0\] is not a valid regular expression/,
    );
    assert.throws(() => compileRedactPatterns(["x*"]), /matches the empty string/);
  });

  test("redactValue keeps JSON intact and uses key names as context", () => {
    const r = createRedactor();
    const out = r.redactValue({
      db: { password: "hunter2-but-longer", host: "db.internal" },
      note: 'a "quoted" \\ value',
      n: 3,
    });
    assert.deepEqual(out, {
      db: { password: "[REDACTED:password:1]", host: "db.internal" },
      note: 'a "quoted" \\ value',
      n: 3,
    });
  });

  test("the redactor is fast enough for every prompt (whole corpus < 50 ms)", () => {
    const text = corpus.map((c) => c.text).join("\n") + clean.map((c) => c.text).join("\n");
    const started = performance.now();
    createRedactor().redact(text);
    const ms = performance.now() - started;
    assert.ok(ms < 50, `${ms.toFixed(1)} ms for ${text.length} characters`);
  });

  describe("nothing secret leaves the process", () => {
    let server: FixtureServer;
    before(async () => {
      server = await startFixtureServer();
    });
    after(async () => {
      await server.close();
    });

    test("not to the LLM provider, not to the logs, not into the plan or its evidence", async () => {
      server.setDefault(() => answer("openai-chat", JSON.stringify(GOOD_PLAN)));
      const lines: string[] = [];
      const logger = createLogger({
        service: "planner-test",
        level: "debug",
        scrub: createScrubber(),
        destination: new Writable({
          write(chunk, _enc, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      });
      const config = parseConfig({ llm: { provider: "openai", max_retries: 0 } }).llm;
      const router = createLLMRouter(config, {
        clients: [new OpenAIClient({ apiKey: "sk-fixture", model: "m", baseURL: `${server.url}/v1` })],
        logger,
      });
      const planner = createPlanner({ catalog: loadCatalog(), llm: router, logger });
      const leakedTo: string[] = [];
      for (const { file, text, secrets } of corpus) {
        const before = server.requests.length;
        const result = await planner.plan({
          intent: `scale checkout to 6 in staging; the deploy log said: ${text.slice(0, 300)}`,
          source: "api",
          context: { ...STAGING_CONTEXT, notes: text },
          evidence: [{ name: file, text }],
        });
        logger.info(`planned with evidence ${text}`);
        const sent = server.requests
          .slice(before)
          .map((r) => r.body)
          .join("\n");
        const recorded = JSON.stringify(result);
        for (const secret of secrets) {
          if (leaked(sent, secret)) leakedTo.push(`${file} → provider: ${secret.slice(0, 10)}`);
          if (leaked(recorded, secret)) leakedTo.push(`${file} → plan/evidence: ${secret.slice(0, 10)}`);
        }
        assert.match(sent, /\[REDACTED:/, `${file}: placeholders reached the provider instead`);
      }
      const logText = lines.join("");
      for (const secret of allSecrets) if (leaked(logText, secret)) leakedTo.push(`logs: ${secret.slice(0, 10)}`);
      assert.deepEqual(leakedTo, []);
      assert.ok(server.requests.length >= corpus.length);
    });
  });
});

/**
 * The redaction corpus: realistic secrets in realistic surroundings
 * (test/fixtures/redaction/secrets, listed in manifest.json), one case per
 * kind of secret (kinds.json), a clean corpus of ordinary ops text, and the
 * real webhook deliveries in ../shared. Every secret must go; nothing clean
 * may change.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { leaked, loadCorpus } from "../../test/fixtures/redaction/corpus.ts";
import {
  compileRedactPatterns,
  createRedactor,
  createScrubber,
  DEFAULT_RULES,
  redact,
  redactDeep,
  SECRETLINT_RULE_IDS,
} from "./index.ts";
import { SECRETLINT_HINT } from "./redactor.ts";
import { kindOf, scanWithSecretlint } from "./secretlint.ts";

const { files, kinds, clean } = loadCorpus();
const SHARED = fileURLToPath(new URL("../../../shared/webhook-payloads/", import.meta.url));

describe("redaction corpus", () => {
  test("the corpus holds at least 60 secrets in 15 files, and 44 kinds", () => {
    assert.ok(files.flatMap((f) => f.secrets).length >= 60);
    assert.ok(files.length >= 15);
    assert.ok(kinds.length >= 44, `${kinds.length} kinds`);
  });

  for (const { file, text, secrets } of files) {
    test(`every secret in ${file} is redacted`, () => {
      const out = createRedactor().redact(text);
      for (const secret of secrets)
        assert.ok(!leaked(out, secret), `${file}: ${secret.slice(0, 12)}… survived:\n${out}`);
      assert.match(out, /\[REDACTED:[a-z0-9_]+:\d+\]/);
    });
  }

  test("every kind is redacted: as text, as a JSON value, behind a key, and by the log scrubber", () => {
    const leaks: string[] = [];
    const scrub = createScrubber();
    for (const { kind, text, secrets } of kinds) {
      const asText = createRedactor().redact(text);
      const asAlert = JSON.stringify(
        redactDeep({ labels: { alertname: "Leak", detail: text }, annotations: { description: text, [kind]: text } }),
      );
      const logged = scrub(`request failed: ${text}`);
      for (const secret of secrets) {
        if (leaked(asText, secret)) leaks.push(`${kind} (text): ${asText.slice(0, 160)}`);
        if (leaked(asAlert, secret)) leaks.push(`${kind} (json): ${asAlert.slice(0, 160)}`);
        if (leaked(logged, secret)) leaks.push(`${kind} (log): ${logged.slice(0, 160)}`);
      }
    }
    assert.deepEqual(leaks, []);
  });

  test("the clean corpus is left alone: no false positive", () => {
    const changed: string[] = [];
    let lines = 0;
    for (const { file, text } of clean) {
      const out = createRedactor().redact(text);
      const a = text.split("\n");
      const b = out.split("\n");
      lines += a.length;
      a.forEach((line, i) => {
        if (line !== b[i]) changed.push(`${file}: ${line} → ${b[i]}`);
      });
      if (file.endsWith(".json")) {
        const value = JSON.parse(text) as unknown;
        assert.deepEqual(redactDeep(value), value, `${file} as a JSON value`);
      }
    }
    assert.ok(lines >= 400, `${lines} clean lines`);
    assert.deepEqual(changed, []);
  });

  test("real webhook deliveries (../shared/webhook-payloads) are left alone", (t) => {
    if (!existsSync(SHARED)) {
      t.skip(`${SHARED} is not there`);
      return;
    }
    let n = 0;
    for (const dir of readdirSync(SHARED, { withFileTypes: true })) {
      if (!dir.isDirectory()) continue;
      for (const f of readdirSync(join(SHARED, dir.name)).filter((x) => x.endsWith(".json"))) {
        const value = JSON.parse(readFileSync(join(SHARED, dir.name, f), "utf8")) as unknown;
        assert.deepEqual(redactDeep(value), value, `${dir.name}/${f}`);
        n++;
      }
    }
    assert.ok(n >= 5, `${n} payloads`);
  });

  test("structural values stay: digests, ids, hashes next to secret-sounding keys", () => {
    const digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const value = {
      raw_sha256: digest,
      "checksum/secret": digest,
      secret_checksum: digest,
      token_sha256: digest,
      image: `registry.acme.dev/shop/checkout@sha256:${digest}`,
      signal_id: "sig-9f86d081884c7d659a2feaa0c55ad015",
      plan_id: "0190a5b2-7c1e-7f00-8a2b-3c4d5e6f7a8b",
      secretName: "checkout-db-credentials",
      tokenRef: "env:GITHUB_TOKEN",
      password_file: "/var/run/secrets/db/password",
      commit: "3f9c2e1d4b5a69788796a5b4c3d2e1f0a9b8c7d6",
    };
    assert.deepEqual(redactDeep(value), value);
  });
});

describe("redactor", () => {
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

  test("redactValue keeps JSON intact, uses key names as context, and redacts keys too", () => {
    const r = createRedactor();
    const token = `ghp_${"q7W8e9R0t1".repeat(4).slice(0, 36)}`;
    const out = r.redactValue({
      db: { password: "hunter2-but-longer", host: "db.internal" },
      note: 'a "quoted" \\ value',
      n: 3,
      when: null,
      [token]: "a label named after a token",
    });
    assert.deepEqual(out, {
      db: { password: "[REDACTED:password:1]", host: "db.internal" },
      note: 'a "quoted" \\ value',
      n: 3,
      when: null,
      "[REDACTED:github_token:1]": "a label named after a token",
    });
  });

  test("secretlint's recommended preset runs too, its findings named after its message ids", () => {
    assert.ok(SECRETLINT_RULE_IDS.length >= 20, SECRETLINT_RULE_IDS.join(", "));
    assert.ok(!SECRETLINT_RULE_IDS.some((id) => id.includes("filter-comments")), "no secretlint-disable directives");
    // A Shopify token: no rule of ours knows its shape, secretlint's does.
    const shopify = `shpat_${"0123456789abcdef".repeat(2)}`;
    assert.equal(redact(`SHOPIFY_ADMIN=${shopify}`).includes(shopify), false);
    assert.match(redact(`x ${shopify} y`), /^x \[REDACTED:shopify_key:1\] y$/);
    assert.equal(kindOf("AWSSecretAccessKey"), "aws_secret_access_key");
    assert.equal(kindOf("GITHUB_TOKEN"), "github_token");
  });

  test("secretlint's scanners find nothing in a text without the hint (the shortcut is safe)", () => {
    const texts = [...files, ...kinds, ...clean].flatMap((c) => [c.text, ...c.text.split("\n")]);
    const missed = texts.filter((t) => !SECRETLINT_HINT.test(t) && scanWithSecretlint(t).length > 0);
    assert.deepEqual(missed, []);
    assert.ok(texts.some((t) => SECRETLINT_HINT.test(t) && scanWithSecretlint(t).length > 0));
  });

  test("secretlint's hint passes over a secret-ish word without an assignment, not over `_authToken=`", () => {
    assert.equal(SECRETLINT_HINT.test("rotate the checkout api token in staging after the auth incident"), false);
    assert.equal(SECRETLINT_HINT.test("//registry.npmjs.org/:_authToken=abc123"), true);
    assert.equal(SECRETLINT_HINT.test('"client_secret": "x"'), true);
  });

  test("a rule's `requires` is in every match of its pattern, and without it the rule finds nothing", () => {
    const texts = [...files, ...kinds, ...clean].flatMap((c) => [c.text, ...c.text.split("\n")]);
    const guarded = DEFAULT_RULES.filter((rule) => rule.requires !== undefined);
    assert.ok(guarded.length >= 10, `${guarded.length} rules with requires`);
    let matched = 0;
    for (const rule of guarded) {
      const requires = rule.requires as RegExp;
      const global = new RegExp(
        rule.pattern.source,
        rule.pattern.flags.includes("g") ? rule.pattern.flags : `${rule.pattern.flags}g`,
      );
      for (const text of texts) {
        for (const m of text.matchAll(global)) {
          matched++;
          assert.ok(requires.test(m[0]), `${rule.name}: ${JSON.stringify(m[0])} lacks ${requires}`);
        }
        const stripped = text.replace(new RegExp(requires.source, "g"), " ");
        assert.equal(stripped.match(global), null, `${rule.name} matches ${JSON.stringify(stripped.slice(0, 80))}`);
      }
    }
    assert.ok(matched > 50, `only ${matched} matches: the corpus no longer exercises these rules`);
  });

  test("a secretlint-disable comment does not switch redaction off", () => {
    const shopify = `shpat_${"fedcba9876543210".repeat(2)}`;
    const out = redact(`# secretlint-disable\nshop ${shopify}\n# secretlint-enable`);
    assert.equal(out.includes(shopify), false, out);
  });

  test("fast enough for every entry: the whole corpus in well under a second", () => {
    const text = [...files, ...kinds, ...clean].map((c) => c.text).join("\n");
    const started = performance.now();
    createRedactor().redact(text);
    const ms = performance.now() - started;
    assert.ok(ms < 250, `${ms.toFixed(1)} ms for ${text.length} characters`);
  });
});

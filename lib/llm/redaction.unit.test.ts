/**
 * Nothing secret leaves the process through the planner: a corpus of
 * realistic secrets (test/fixtures/redaction: files and one case per kind)
 * must never reach the LLM provider, the logs, the plan or its evidence.
 * The redaction library's own tests (lib/redact) cover the engine: every
 * kind, the clean corpus, placeholders, configured patterns.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { answer, GOOD_PLAN, STAGING_CONTEXT } from "../../test/fixtures/llm/plans.ts";
import { type FixtureServer, startFixtureServer } from "../../test/fixtures/llm/server.ts";
import { leaked, loadCorpus } from "../../test/fixtures/redaction/corpus.ts";
import { parseConfig } from "../config/index.ts";
import { createLogger } from "../log/index.ts";
import { createPlanner } from "../planner/index.ts";
import { createScrubber } from "../redact/index.ts";
import { loadCatalog } from "../tools/index.ts";
import { OpenAIClient } from "./openai.ts";
import { createLLMRouter } from "./router.ts";

const { files, kinds } = loadCorpus();
const corpus = [...files, ...kinds.map((k) => ({ file: `kinds.json#${k.kind}`, text: k.text, secrets: k.secrets }))];
const allSecrets = corpus.flatMap((c) => c.secrets);

describe("TestRedaction", () => {
  describe("nothing secret leaves the process", () => {
    let server: FixtureServer;
    before(async () => {
      server = await startFixtureServer();
    });
    after(async () => {
      await server.close();
    });

    test("not to the LLM provider, not to the logs, not into the plan or its evidence", async () => {
      server.setDefault("chat", () => answer("openai-chat", JSON.stringify(GOOD_PLAN)));
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

/**
 * Each provider client, on its real SDK, against a local fixture server that
 * speaks the provider's wire format (JSON and SSE), through the router and
 * the planner: a good answer, a schema-invalid answer repaired on retry, 429
 * then success (Retry-After honoured), 500, a timeout, a truncated stream,
 * malformed JSON.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import {
  answer,
  endpointOf,
  GOOD_PLAN,
  INVALID_PLAN,
  providerOf,
  STAGING_CONTEXT,
  type Wire,
} from "../../test/fixtures/llm/plans.ts";
import {
  anthropicErrorReply,
  type FixtureServer,
  openaiErrorReply,
  promptText,
  providerError,
  startFixtureServer,
} from "../../test/fixtures/llm/server.ts";
import { parseConfig } from "../config/index.ts";
import { createPlanner, PlanningFailedError } from "../planner/index.ts";
import { loadCatalog } from "../tools/index.ts";
import { AnthropicClient } from "./anthropic.ts";
import { CodexClient } from "./codex.ts";
import { OpenAIClient } from "./openai.ts";
import { createLLMRouter, type LLMRouter } from "./router.ts";
import { type LLMClient, ProviderError } from "./types.ts";

const catalog = loadCatalog();
const API_KEY = "sk-fixture-key-0000";

function clientFor(wire: Wire, server: FixtureServer, timeoutMs = 2000): LLMClient {
  const common = { model: "fixture-model", timeoutMs, maxOutputTokens: 2048 };
  switch (wire) {
    case "openai-chat":
    case "openai-chat-sse":
      return new OpenAIClient({
        ...common,
        apiKey: API_KEY,
        baseURL: `${server.url}/v1`,
        stream: wire.endsWith("sse"),
      });
    case "openai-responses":
    case "openai-responses-sse":
      return new OpenAIClient({
        ...common,
        apiKey: API_KEY,
        baseURL: `${server.url}/v1`,
        api: "responses",
        stream: wire.endsWith("sse"),
      });
    case "anthropic":
    case "anthropic-sse":
      return new AnthropicClient({ ...common, apiKey: API_KEY, baseURL: server.url, stream: wire.endsWith("sse") });
    case "codex":
      return new CodexClient({
        ...common,
        accessToken: "codex-oauth-access-token",
        baseURL: `${server.url}/backend-api/codex`,
      });
  }
}

function routerFor(wire: Wire, server: FixtureServer, opts: { timeoutMs?: number; sleeps?: number[] } = {}): LLMRouter {
  const config = parseConfig({ llm: { provider: providerOf(wire), max_retries: 2 } }).llm;
  return createLLMRouter(config, {
    clients: [clientFor(wire, server, opts.timeoutMs)],
    baseDelayMs: 1,
    sleep: async (ms) => {
      opts.sleeps?.push(ms);
    },
  });
}

const WIRES: Wire[] = [
  "openai-chat",
  "openai-chat-sse",
  "openai-responses",
  "openai-responses-sse",
  "anthropic",
  "anthropic-sse",
  "codex",
];
const errorShape = (wire: Wire) => (wire.startsWith("anthropic") ? "anthropic" : "openai");

for (const wire of WIRES) {
  describe(`LLM client ${wire}`, () => {
    let server: FixtureServer;
    before(async () => {
      server = await startFixtureServer();
    });
    afterEach(() => {
      assert.equal(server.pending(), 0, "every queued reply was taken, from the endpoint it was queued on");
    });
    after(async () => {
      await server.close();
    });
    const endpoint = endpointOf(wire);
    const plan = (router: LLMRouter) =>
      createPlanner({ catalog, llm: router }).plan({
        intent: "scale checkout to 6 in staging",
        source: "api",
        environment: "staging",
        context: STAGING_CONTEXT,
      });

    test("a good answer becomes the plan, recording who answered", async () => {
      const seen = server.requests.length;
      server.enqueue(endpoint, answer(wire, JSON.stringify(GOOD_PLAN)));
      const result = await plan(routerFor(wire, server));
      assert.equal(result.plan.planner.kind, "llm");
      assert.equal(result.plan.planner.provider, providerOf(wire));
      assert.equal(result.plan.planner.model, "fixture-model");
      assert.deepEqual(
        result.plan.steps.map((s) => s.action_id),
        ["kubectl.get", "kubectl.scale"],
      );
      const request = server.requests[seen];
      assert.ok(request, "the fixture received the request");
      assert.match(promptText(request), /scale checkout to 6 in staging/);
      const auth = String(request.headers.authorization ?? request.headers["x-api-key"] ?? "");
      assert.match(auth, wire === "codex" ? /codex-oauth-access-token/ : /sk-fixture-key-0000/);
      // The catalog-generated schema went with the request, in the provider's own field.
      const body = request.json as Record<string, unknown>;
      const schemaText = JSON.stringify(body.response_format ?? body.text ?? body.tools);
      assert.match(schemaText, /kubectl\.scale/);
      assert.equal(request.headers["x-stainless-retry-count"], "0", "SDK retries are off");
    });

    test("a schema-invalid answer is sent back with the issues and repaired", async () => {
      const seen = server.requests.length;
      server.enqueue(endpoint, answer(wire, JSON.stringify(INVALID_PLAN)), answer(wire, JSON.stringify(GOOD_PLAN)));
      const result = await plan(routerFor(wire, server));
      assert.equal(result.plan.steps.length, 2);
      const repair = server.requests[seen + 1];
      assert.ok(repair);
      const text = promptText(repair);
      assert.match(text, /rejected by validation/);
      assert.match(text, /steps\[0\]\.input\.replicas/);
      assert.match(text, /steps\[0\]\.input\.force/);
      assert.match(text, /steps\[0\]\.rollback/);
      assert.equal(result.transcript?.responses.length, 2);
    });

    test("429 with Retry-After, then success", async () => {
      const sleeps: number[] = [];
      server.enqueue(
        endpoint,
        providerError(429, errorShape(wire), { "retry-after": "1" }),
        answer(wire, JSON.stringify(GOOD_PLAN)),
      );
      const result = await plan(routerFor(wire, server, { sleeps }));
      assert.equal(result.plan.planner.kind, "llm");
      assert.equal(sleeps.length, 1);
      assert.ok((sleeps[0] ?? 0) >= 1000, `waited ${sleeps[0]} ms, at least the 1 s Retry-After`);
    });

    test("500 is retried, and when it persists the template planner answers", async () => {
      server.enqueue(endpoint, providerError(500, errorShape(wire)), answer(wire, JSON.stringify(GOOD_PLAN)));
      const retried = await plan(routerFor(wire, server));
      assert.equal(retried.plan.planner.kind, "llm");

      for (let i = 0; i < 3; i++) server.enqueue(endpoint, providerError(503, errorShape(wire)));
      const fellBack = await plan(routerFor(wire, server));
      assert.equal(fellBack.plan.planner.kind, "template");
      assert.match(fellBack.fallbackReason ?? "", /every LLM provider failed \(3 attempt/);
      assert.deepEqual(
        fellBack.plan.steps.map((s) => s.action_id),
        ["kubectl.get", "kubectl.scale"],
      );
    });

    test("a timeout is retried", async () => {
      server.enqueue(endpoint, { kind: "hang" }, answer(wire, JSON.stringify(GOOD_PLAN)));
      const result = await plan(routerFor(wire, server, { timeoutMs: 300 }));
      assert.equal(result.plan.planner.kind, "llm");
      const attempts = result.transcript?.responses[0]?.attempts as { outcome: string }[];
      assert.deepEqual(
        attempts.map((a) => a.outcome),
        ["timeout", "ok"],
      );
    });

    test("a truncated stream (or a dropped connection) is retried", async () => {
      const cut =
        wire.endsWith("sse") || wire === "codex"
          ? answer(wire, JSON.stringify(GOOD_PLAN), { truncateAfter: 3 })
          : ({ kind: "destroy" } as const);
      server.enqueue(endpoint, cut, answer(wire, JSON.stringify(GOOD_PLAN)));
      const result = await plan(routerFor(wire, server));
      const attempts = result.transcript?.responses[0]?.attempts as { outcome: string }[];
      assert.equal(attempts.length, 2);
      assert.match(attempts[0]?.outcome ?? "", /^(truncated|network)$/);
      assert.equal(attempts[1]?.outcome, "ok");
    });

    test("malformed JSON is sent back and repaired; persistent garbage fails with reasons", async () => {
      const seen = server.requests.length;
      server.enqueue(
        endpoint,
        answer(wire, '{"summary": "Scale", "steps": [{"step_id": "s1",'),
        answer(wire, JSON.stringify(GOOD_PLAN)),
      );
      const repaired = await plan(routerFor(wire, server));
      assert.equal(repaired.plan.steps.length, 2);
      assert.match(promptText(server.requests[seen + 1] as never), /not valid JSON/);

      for (let i = 0; i < 3; i++) server.enqueue(endpoint, answer(wire, "I think you should scale it"));
      await assert.rejects(plan(routerFor(wire, server)), (error: unknown) => {
        assert.ok(error instanceof PlanningFailedError);
        assert.match(error.reasons[0] ?? "", /still invalid after 2 repair/);
        assert.equal(error.transcript?.responses.length, 3);
        return true;
      });
    });
  });
}

describe("provider errors", () => {
  test("an HTTP error is classified by its status, even when its message speaks of a timeout", async () => {
    const server = await startFixtureServer();
    try {
      const request = { system: "s", messages: [{ role: "user" as const, content: "u" }], schemaName: "x", schema: {} };
      // Anthropic's 504 body is a `timeout_error`; a 400 may name a `timeout` parameter.
      server.enqueue("messages", anthropicErrorReply(504, "Request timed out upstream"));
      server.enqueue("chat", openaiErrorReply(400, { message: "Invalid value for 'timeout'.", param: "timeout" }));
      const outcomes = [];
      for (const wire of ["anthropic", "openai-chat"] as const) {
        const error = await clientFor(wire, server)
          .complete(request)
          .catch((e: unknown) => e);
        assert.ok(error instanceof ProviderError);
        outcomes.push({ failure: error.failure, status: error.httpStatus, retryable: error.retryable });
      }
      assert.deepEqual(outcomes, [
        { failure: "server_error", status: 504, retryable: true },
        { failure: "bad_request", status: 400, retryable: false },
      ]);
    } finally {
      await server.close();
    }
  });
});

describe("LLM router", () => {
  test("auth failures are not retried; the next provider in the fallback answers", async () => {
    const first = await startFixtureServer();
    const second = await startFixtureServer();
    try {
      first.enqueue("chat", providerError(401, "openai"));
      second.enqueue("messages", answer("anthropic", JSON.stringify(GOOD_PLAN)));
      const config = parseConfig({ llm: { provider: "openai", max_retries: 3 } }).llm;
      const router = createLLMRouter(config, {
        clients: [clientFor("openai-chat", first), clientFor("anthropic", second)],
        sleep: async () => {},
      });
      const result = await createPlanner({ catalog, llm: router }).plan({
        intent: "scale checkout to 6 in staging",
        source: "api",
        context: STAGING_CONTEXT,
      });
      assert.equal(result.plan.planner.provider, "anthropic");
      assert.equal(first.requests.length, 1, "401 is not retried");
      const attempts = result.transcript?.responses[0]?.attempts as { provider: string; outcome: string }[];
      assert.deepEqual(
        attempts.map((a) => `${a.provider}:${a.outcome}`),
        ["openai:auth", "anthropic:ok"],
      );
    } finally {
      await first.close();
      await second.close();
    }
  });

  test("builds clients from config; a missing key is a ConfigError naming the field", () => {
    const config = parseConfig({
      llm: { provider: "openai", api_base: "http://127.0.0.1:1/v1", api_key: "env:WH_TEST_KEY" },
    }).llm;
    assert.throws(() => createLLMRouter(config, { env: {} }), /llm: no API key for openai/);
    const router = createLLMRouter(config, { env: { WH_TEST_KEY: "sk-x" } });
    assert.deepEqual(router.providers, [{ provider: "openai", model: "gpt-5-mini" }]);
    assert.equal(createLLMRouter(parseConfig({}).llm).enabled, false);
  });

  test("backoff grows exponentially with jitter", async () => {
    const server = await startFixtureServer();
    try {
      for (let i = 0; i < 4; i++) server.enqueue("chat", providerError(500, "openai"));
      const sleeps: number[] = [];
      const config = parseConfig({ llm: { provider: "openai", max_retries: 3 } }).llm;
      const router = createLLMRouter(config, {
        clients: [clientFor("openai-chat", server)],
        baseDelayMs: 100,
        random: () => 1,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      });
      await assert.rejects(
        router.complete({
          system: "s",
          messages: [{ role: "user", content: "u" }],
          schemaName: "x",
          schema: { type: "object" },
        }),
        /every LLM provider failed \(4 attempt/,
      );
      assert.deepEqual(sleeps, [100, 200, 400]);
    } finally {
      await server.close();
    }
  });
});

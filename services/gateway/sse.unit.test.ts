import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createAuthenticator, type DevIssuer, loadDevIssuer } from "../../lib/auth/index.ts";
import { parseConfig } from "../../lib/config/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { waitFor } from "../../test/support/wait.ts";
import type { Handler, Route } from "./api.ts";
import { createHttpTransport, type HttpTransport } from "./http.ts";
import type { LiveHub, OutputChunk } from "./live.ts";
import { createMetrics } from "./metrics.ts";
import { createFailureLimiter, createRateLimiter } from "./rate-limit.ts";
import { buildRoutes, type RouteHandlers } from "./routes.ts";

const unused: Handler = async () => assert.fail("no handler runs in this test");
const logsRoute = buildRoutes(new Proxy({}, { get: () => unused }) as RouteHandlers).find(
  (r) => r.path === "/v1/executions/{id}/logs",
) as Route;

describe("SSE tool output", () => {
  const config = parseConfig({ gateway: { auth: { mode: "dev" } } }).gateway.auth;
  let dir: string;
  let issuer: DevIssuer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "wh-sse-issuer-"));
    issuer = await loadDevIssuer(dir, config.issuer);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const token = (roles: ("viewer" | "operator")[] = ["viewer"]) =>
    issuer.mint({
      sub: "vic",
      roles,
      audience: config.audience,
      rolesClaim: config.roles_claim,
      roleMap: config.role_map,
    });

  function transport(routes: Route[], followOutput: Parameters<typeof createHttpTransport>[0]["followOutput"]) {
    const hub: LiveHub = { subscribe: async () => {}, remove: async () => {}, size: 0, stop: async () => {} };
    return createHttpTransport({
      routes,
      // The real verifier, over the dev issuer's key set: the stream gets no token-free path.
      authenticator: createAuthenticator({ config, jwks: issuer.jwks() }),
      rateLimiter: createRateLimiter(600),
      authFailures: createFailureLimiter(600),
      logger: createLogger({ level: "silent" } as never),
      metrics: createMetrics(),
      bodyLimitBytes: 1024,
      hub,
      openapi: () => ({}),
      health: async () => ({ ok: true, checks: {} }),
      followOutput,
    });
  }

  async function withServer(t: HttpTransport, run: (base: string) => Promise<void>) {
    const base = await t.start({ host: "127.0.0.1", port: 0 });
    try {
      await run(base);
    } finally {
      await t.stop();
    }
  }

  it("refuses a request without a valid viewer token before following any output", async () => {
    let followed = 0;
    const t = transport([logsRoute], async () => {
      followed++;
      return { stop: async () => {} };
    });
    await withServer(t, async (base) => {
      const none = await fetch(`${base}/v1/executions/exec-1/logs`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get("cache-control"), "no-store");
      const forged = await fetch(`${base}/v1/executions/exec-1/logs`, {
        headers: { authorization: `Bearer ${(await token()).slice(0, -4)}AAAA` },
      });
      assert.equal(forged.status, 401);
      const badResume = await fetch(`${base}/v1/executions/exec-1/logs`, {
        headers: { authorization: `Bearer ${await token()}`, "last-event-id": "-1" },
      });
      assert.equal(badResume.status, 400);
      assert.equal(((await badResume.json()) as { field: string }).field, "Last-Event-Id");
      assert.equal(followed, 0);
    });
  });

  it("without the logs route in the table there is no stream at all, not an open one", async () => {
    let followed = 0;
    const t = transport([], async () => {
      followed++;
      return { stop: async () => {} };
    });
    await withServer(t, async (base) => {
      const res = await fetch(`${base}/v1/executions/exec-1/logs`, {
        headers: { authorization: `Bearer ${await token()}` },
      });
      assert.equal(res.status, 404);
      assert.equal(followed, 0);
    });
  });

  it("ends the stream of a client that stops reading instead of buffering without bound", async () => {
    let stopped = false;
    let sent = 0;
    const t = transport([logsRoute], async (_id, _from, onChunk: (chunk: OutputChunk) => void) => {
      const line = "x".repeat(16 * 1024);
      const timer = setInterval(() => {
        // 64 MiB in all if nobody stops it; a client that reads nothing must not make the gateway hold that.
        for (let i = 0; i < 64 && !stopped && sent < 4096; i++) onChunk({ seq: sent++, data: { line } });
      }, 5);
      return {
        async stop() {
          stopped = true;
          clearInterval(timer);
        },
      };
    });
    const bearer = await token();
    await withServer(t, async (base) => {
      let status = 0;
      let headers: Record<string, unknown> = {};
      const request = get(
        `${base}/v1/executions/exec-1/logs`,
        { headers: { authorization: `Bearer ${bearer}` } },
        (res) => {
          status = res.statusCode ?? 0;
          headers = res.headers;
          res.pause();
        },
      );
      request.on("error", () => undefined);
      try {
        await waitFor("the gateway to give up on the stalled client", () => stopped, { timeoutMs: 10_000 });
        assert.equal(status, 200);
        assert.equal(headers["x-content-type-options"], "nosniff");
        assert.equal(headers["cache-control"], "no-store");
        assert.ok(sent < 4096, `all ${sent} chunks were buffered for a client that read nothing`);
      } finally {
        request.destroy();
      }
    });
  });
});

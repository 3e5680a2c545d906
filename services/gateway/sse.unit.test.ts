import assert from "node:assert/strict";
import { get } from "node:http";
import { describe, it } from "node:test";
import type { Authenticator } from "../../lib/auth/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { createHttpTransport } from "./http.ts";
import type { LiveHub, OutputChunk } from "./live.ts";
import { createMetrics } from "./metrics.ts";
import { createRateLimiter } from "./rate-limit.ts";

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

describe("SSE tool output", () => {
  it("ends the stream of a client that stops reading instead of buffering without bound", async () => {
    let stopped = false;
    let sent = 0;
    const hub: LiveHub = { subscribe: async () => {}, remove: async () => {}, size: 0, stop: async () => {} };
    const transport = createHttpTransport({
      // No logs route in the table: the transport serves the stream without asking for a token.
      routes: [],
      authenticator: {} as Authenticator,
      rateLimiter: createRateLimiter(600),
      logger: createLogger({ level: "silent" } as never),
      metrics: createMetrics(),
      bodyLimitBytes: 1024,
      hub,
      openapi: () => ({}),
      health: async () => ({ ok: true, checks: {} }),
      followOutput: async (_id, _from, onChunk: (chunk: OutputChunk) => void) => {
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
      },
    });
    const base = await transport.start({ host: "127.0.0.1", port: 0 });
    const request = get(`${base}/v1/executions/exec-1/logs`, (res) => res.pause());
    request.on("error", () => undefined);
    try {
      await waitFor(() => stopped, 10_000, "the gateway to give up on the stalled client");
      assert.ok(sent < 4096, `all ${sent} chunks were buffered for a client that read nothing`);
    } finally {
      request.destroy();
      await transport.stop();
    }
  });
});

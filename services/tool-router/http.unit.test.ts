import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../lib/errors/index.ts";
import { createCapabilityVerifier, generateCapabilityKeys } from "../../lib/tools/index.ts";
import { createToolRouterTransport, isLoopbackHost } from "./http.ts";
import type { ToolRouter } from "./router.ts";

// The transport's auth does not depend on what the router does; an empty catalog is enough.
const router: ToolRouter = {
  listTools: async () => ({ tools: [] }),
  executeTool: async () => {
    throw new Error("not called");
  },
  getResource: async () => {
    throw new Error("not called");
  },
  streamToolLogs: async function* () {},
};
const capabilities = createCapabilityVerifier({ verifyKey: generateCapabilityKeys().verifyKey });

describe("tool router transport: who may reach it", () => {
  it("refuses to listen beyond loopback without a bearer token", async () => {
    const transport = createToolRouterTransport({ router, capabilities });
    try {
      await assert.rejects(transport.start({ host: "0.0.0.0", port: 0 }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.issues[0]?.field, "tools.router_token");
        return true;
      });
      assert.equal(transport.app.server.listening, false);
    } finally {
      await transport.stop();
    }
  });

  it("listens beyond loopback when a token is set, and asks for it", async () => {
    const transport = createToolRouterTransport({ router, capabilities, authToken: "s3cret-router-token" });
    try {
      const base = await transport.start({ host: "0.0.0.0", port: 0 });
      const port = new URL(base).port;
      const denied = await fetch(`http://127.0.0.1:${port}/rpc/ListTools`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(denied.status, 401);
      const allowed = await fetch(`http://127.0.0.1:${port}/rpc/ListTools`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer s3cret-router-token" },
        body: "{}",
      });
      assert.equal(allowed.status, 200);
    } finally {
      await transport.stop();
    }
  });

  it("listens on loopback without a token (the embedded profile)", async () => {
    const transport = createToolRouterTransport({ router, capabilities });
    try {
      await transport.start({ host: "127.0.0.1", port: 0 });
      assert.equal(transport.app.server.listening, true);
    } finally {
      await transport.stop();
    }
  });

  it("tells loopback addresses from others", () => {
    for (const host of ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "192.168.1.1", "example.internal", "::ffff:10.0.0.1", ""]) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });
});

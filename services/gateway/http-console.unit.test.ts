/** The console's static serving: cache headers by kind, the CSP, compression, the SPA fallback, the placeholder. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { brotliDecompressSync } from "node:zlib";
import Fastify, { type FastifyInstance } from "fastify";
import { type ConsoleAuthConfig, registerConsole } from "./http-console.ts";

const auth: ConsoleAuthConfig = {
  issuer: "http://127.0.0.1:8320/dev-issuer",
  client_id: "wheelhouse-console",
  scope: "openid api",
  resource: "urn:wheelhouse:api",
  redirect_path: "/callback",
};
const script = `console.log(${JSON.stringify("x".repeat(4000))});\n`;

async function consoleApp(assetsDir: string | null): Promise<FastifyInstance> {
  const app = Fastify();
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).type("application/problem+json").send({ code: "not_found" }),
  );
  app.get("/v1/plans", async () => ({ plans: [] }));
  registerConsole(app, { assetsDir, auth });
  await app.ready();
  return app;
}

describe("the console's static files", () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "wh-console-"));
    mkdirSync(join(dir, "assets"));
    writeFileSync(
      join(dir, "index.html"),
      '<!doctype html><script type="module" src="/assets/app-3f9a1c2b.js"></script>',
    );
    writeFileSync(join(dir, "assets", "app-3f9a1c2b.js"), script);
    writeFileSync(join(dir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    app = await consoleApp(dir);
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves index.html at / with no-cache, an ETag and the strict CSP", async () => {
    const res = await app.inject({ url: "/", headers: { host: "127.0.0.1:8320" } });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers["content-type"] as string, /^text\/html/);
    assert.equal(res.headers["cache-control"], "no-cache");
    assert.match(res.body, /app-3f9a1c2b\.js/);
    const csp = String(res.headers["content-security-policy"]).split("; ");
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self' ws://127.0.0.1:8320 wss://127.0.0.1:8320 http://127.0.0.1:8320",
      "img-src 'self' data:",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'self'",
    ]) {
      assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp.join("; ")}`);
    }
    const again = await app.inject({ url: "/", headers: { "if-none-match": String(res.headers.etag) } });
    assert.equal(again.statusCode, 304);
  });

  it("caches hashed assets for a year as immutable, compressed when the client takes brotli", async () => {
    const res = await app.inject({ url: "/assets/app-3f9a1c2b.js", headers: { "accept-encoding": "gzip, br" } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.match(res.headers["content-type"] as string, /^text\/javascript/);
    assert.equal(res.headers["content-encoding"], "br");
    assert.equal(brotliDecompressSync(res.rawPayload).toString(), script);
    assert.equal(res.headers["content-security-policy"], undefined, "only pages carry the CSP");
    const plain = await app.inject({ url: "/assets/app-3f9a1c2b.js" });
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.equal(plain.body, script);
  });

  it("falls back to index.html for a console path, not for the API or a missing file", async () => {
    const page = await app.inject({ url: "/changes/p-123?status=pending" });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /app-3f9a1c2b\.js/);
    assert.equal((await app.inject({ url: "/favicon.svg" })).headers["content-type"], "image/svg+xml");
    for (const url of ["/v1/nothing-here", "/v1", "/assets/app-00000000.js", "/robots.txt", "/metrics"]) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.match(res.headers["content-type"] as string, /problem\+json/, url);
    }
    assert.equal((await app.inject({ url: "/v1/plans" })).statusCode, 200);
  });

  it("serves the sign-in settings at /auth-config.json", async () => {
    const res = await app.inject({ url: "/auth-config.json" });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), auth);
  });
});

describe("before the console is built", () => {
  it("serves a page saying how to build it", async () => {
    const app = await consoleApp(join(tmpdir(), "wh-console-not-built"));
    try {
      const res = await app.inject({ url: "/approvals" });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /npm run build:console/);
      assert.ok(res.headers["content-security-policy"]);
    } finally {
      await app.close();
    }
  });
});

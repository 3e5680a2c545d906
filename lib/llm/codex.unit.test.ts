/**
 * Codex OAuth tokens: from an auth file in the Codex CLI's shape (or a named
 * profile), refreshed at the token URL when the JWT has expired (and written
 * back), reported with the fix when it cannot be.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type FixtureServer, openaiResponsesSse, startFixtureServer } from "../../test/fixtures/llm/server.ts";
import { CodexClient, CodexTokenSource } from "./codex.ts";
import { ProviderError } from "./types.ts";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (claims: Record<string, unknown>) => `${b64({ alg: "RS256", typ: "JWT" })}.${b64(claims)}.c2lnbmF0dXJl`;
const now = Math.floor(Date.now() / 1000);
const AUTH = { "https://api.openai.com/auth": { chatgpt_account_id: "acct-123" } };
const request = {
  system: "s",
  messages: [{ role: "user" as const, content: "u" }],
  schemaName: "x",
  schema: { type: "object" },
};

describe("Codex OAuth", () => {
  let server: FixtureServer;
  let dir: string;
  before(async () => {
    server = await startFixtureServer();
    dir = mkdtempSync(join(tmpdir(), "wh-codex-"));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a valid token from the Codex CLI auth file is sent as bearer with the account id", async () => {
    const access = jwt({ exp: now + 3600, ...AUTH });
    const path = join(dir, "auth.json");
    writeFileSync(
      path,
      JSON.stringify({
        OPENAI_API_KEY: null,
        tokens: { access_token: access, refresh_token: "rt-1", id_token: jwt(AUTH) },
      }),
    );
    server.enqueue("codex", openaiResponsesSse('{"ok":true}'));
    const client = new CodexClient({
      model: "gpt-5-codex",
      authPath: path,
      baseURL: `${server.url}/backend-api/codex`,
    });
    const answer = await client.complete(request);
    assert.deepEqual(answer.json, { ok: true });
    const sent = server.requests.at(-1);
    assert.equal(sent?.path, "/backend-api/codex/responses");
    assert.equal(sent?.headers.authorization, `Bearer ${access}`);
    assert.equal(sent?.headers["chatgpt-account-id"], "acct-123");
    assert.equal((sent?.json as { stream?: boolean } | undefined)?.stream, true);
  });

  test("an expired token is refreshed at the token URL, and the file is updated", async () => {
    const path = join(dir, "profiles.json");
    const expired = jwt({ exp: now - 60, ...AUTH });
    const fresh = jwt({ exp: now + 3600, ...AUTH });
    writeFileSync(
      path,
      JSON.stringify({ profiles: { work: { tokens: { access_token: expired, refresh_token: "rt-old" } } } }),
    );
    server.enqueue("codexToken", {
      kind: "json",
      body: { access_token: fresh, refresh_token: "rt-new", id_token: jwt(AUTH), expires_in: 3600 },
    });
    const source = new CodexTokenSource({ authPath: path, authProfile: "work", tokenUrl: `${server.url}/oauth/token` });
    const token = await source.token();
    assert.equal(token.accessToken, fresh);
    const refresh = server.requests.at(-1);
    assert.equal(refresh?.path, "/oauth/token");
    assert.deepEqual(
      {
        grant: (refresh?.json as Record<string, string> | undefined)?.grant_type,
        rt: (refresh?.json as Record<string, string> | undefined)?.refresh_token,
      },
      { grant: "refresh_token", rt: "rt-old" },
    );
    const saved = JSON.parse(readFileSync(path, "utf8")) as { profiles: { work: { tokens: Record<string, string> } } };
    assert.equal(saved.profiles.work.tokens.access_token, fresh);
    assert.equal(saved.profiles.work.tokens.refresh_token, "rt-new", "the rotated refresh token is kept");
    // A second call uses the cached token: no new refresh.
    const before = server.requests.length;
    await source.token();
    assert.equal(server.requests.length, before);
  });

  test("an expired token without a way to refresh it is reported with the fix", async () => {
    const path = join(dir, "stale.json");
    writeFileSync(path, JSON.stringify({ tokens: { access_token: jwt({ exp: now - 60 }) } }));
    await assert.rejects(new CodexTokenSource({ authPath: path }).token(), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.failure, "auth");
      assert.equal(e.retryable, false);
      assert.match(e.message, /expired and there is no refresh token/);
      assert.match(e.fix ?? "", /codex login/);
      return true;
    });
    server.enqueue("codexToken", { kind: "json", status: 400, body: { error: "invalid_grant" } });
    writeFileSync(path, JSON.stringify({ tokens: { access_token: jwt({ exp: now - 60 }), refresh_token: "revoked" } }));
    await assert.rejects(
      new CodexTokenSource({ authPath: path, tokenUrl: `${server.url}/oauth/token` }).token(),
      /refused \(400\)/,
    );
    await assert.rejects(
      new CodexTokenSource({ authPath: join(dir, "missing.json") }).token(),
      /cannot read the Codex auth file/,
    );
    await assert.rejects(
      new CodexTokenSource({ authPath: path, authProfile: "nope" }).token(),
      /has no profile "nope"/,
    );
  });
});

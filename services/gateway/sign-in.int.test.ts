/**
 * Sign-in through the development issuer (oidc-provider mounted at /dev-issuer on the gateway):
 * discovery and JWKS, the authorization code flow with PKCE over plain HTTP (the login form
 * posted, redirects followed by hand), the token the API accepts, refresh with rotation, a wrong
 * verifier refused, and `mint` (npm run token) verifying against the served JWKS.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { API_RESOURCE, CONSOLE_CLIENT_ID, createAuthenticator, loadDevIssuer } from "../../lib/auth/index.ts";
import { parseConfig } from "../../lib/config/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { authorizationCode, signIn, type TokenResponse, tokenRequest } from "../../test/support/sign-in.ts";

describe("sign-in through the development issuer", () => {
  let gw: TestGateway;
  let issuer: string;
  before(async () => {
    gw = await startTestGateway({ devIssuer: true });
    issuer = `${gw.url}/dev-issuer`;
  });
  after(() => gw.stop());

  it("publishes discovery for the mounted issuer: code flow, S256 only, resource indicators", async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, unknown>;
    assert.equal(doc.issuer, issuer);
    assert.equal(doc.authorization_endpoint, `${issuer}/auth`);
    assert.equal(doc.token_endpoint, `${issuer}/token`);
    assert.equal(doc.jwks_uri, `${issuer}/.well-known/jwks.json`);
    assert.deepEqual(doc.code_challenge_methods_supported, ["S256"]);
    assert.ok((doc.grant_types_supported as string[]).includes("refresh_token"));
    assert.ok((doc.scopes_supported as string[]).includes("offline_access"));
  });

  it("serves the public signing key only (no private part)", async () => {
    const jwks = (await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.alg, "ES256");
    assert.equal(jwks.keys[0]?.d, undefined);
  });

  let alice: TokenResponse;
  it("signs alice in with authorization code + PKCE; her access token is a JWT for the API", async () => {
    const { loginPage } = await authorizationCode(gw.url, "alice");
    const csp = loginPage.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /form-action 'self'/);
    const html = await loginPage.text();
    for (const name of ["alice", "bob", "carol"]) assert.match(html, new RegExp(`value="${name}"`));

    alice = await signIn(gw.url, "alice");
    assert.equal(alice.token_type, "Bearer");
    assert.ok(alice.refresh_token, "a refresh token for the console");
    assert.ok(alice.id_token, "an ID token");
    assert.equal(decodeProtectedHeader(alice.access_token).typ, "at+jwt");
    const claims = decodeJwt(alice.access_token);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, "wheelhouse");
    assert.equal(claims.sub, "alice");
    assert.equal(claims.client_id, CONSOLE_CLIENT_ID);
    assert.deepEqual(claims.groups, ["wheelhouse-operators"]);
    const idClaims = decodeJwt(alice.id_token ?? "");
    assert.equal(idClaims.name, "Alice");
    assert.deepEqual(idClaims.groups, ["wheelhouse-operators"]);
  });

  it("the API takes alice's token as alice, an operator", async () => {
    const res = await fetch(`${gw.url}/v1/plans`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ intent: "scale checkout to 3 in staging" }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const listed = await fetch(`${gw.url}/v1/plans`, { headers: { authorization: `Bearer ${alice.access_token}` } });
    assert.equal(listed.status, 200);
  });

  it("bob's token carries the approver role and his approver group", async () => {
    const bob = await signIn(gw.url, "bob");
    const claims = decodeJwt(bob.access_token);
    assert.equal(claims.sub, "bob");
    assert.deepEqual(claims.groups, ["wheelhouse-approvers", "sre"]);
  });

  it("refreshes: a new access token, the refresh token rotated, the old one refused", async () => {
    const res = await tokenRequest(gw.url, {
      grant_type: "refresh_token",
      refresh_token: alice.refresh_token ?? "",
      resource: API_RESOURCE,
    });
    assert.equal(res.status, 200, await res.clone().text());
    const refreshed = (await res.json()) as TokenResponse;
    assert.notEqual(refreshed.access_token, alice.access_token);
    assert.notEqual(refreshed.refresh_token, alice.refresh_token);
    assert.equal(decodeJwt(refreshed.access_token).sub, "alice");
    const ok = await fetch(`${gw.url}/v1/plans`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
    assert.equal(ok.status, 200);
    const again = await tokenRequest(gw.url, { grant_type: "refresh_token", refresh_token: alice.refresh_token ?? "" });
    assert.equal(again.status, 400);
    assert.equal(((await again.json()) as { error: string }).error, "invalid_grant");
  });

  it("refuses a code exchanged with the wrong PKCE verifier, or without one", async () => {
    const { code, redirectUri } = await authorizationCode(gw.url, "bob");
    for (const verifier of ["x".repeat(43), undefined]) {
      const res = await tokenRequest(gw.url, {
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        ...(verifier ? { code_verifier: verifier } : {}),
      });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, /invalid_grant|invalid_request/);
    }
  });

  it("refuses an authorization request without PKCE, or for another redirect URI", async () => {
    const base = `${issuer}/auth?client_id=${CONSOLE_CLIENT_ID}&response_type=code&scope=openid`;
    const noPkce = await fetch(`${base}&redirect_uri=${encodeURIComponent(`${gw.url}/callback`)}`, {
      redirect: "manual",
    });
    assert.equal(noPkce.status, 303);
    assert.match(noPkce.headers.get("location") ?? "", /error=invalid_request/);
    const elsewhere = await fetch(`${base}&redirect_uri=${encodeURIComponent("https://evil.example/callback")}`, {
      redirect: "manual",
    });
    assert.equal(elsewhere.status, 400);
  });

  it("a minted token (npm run token) verifies against the issuer's served JWKS", async () => {
    const config = parseConfig({ gateway: { auth: { mode: "dev", issuer } } }).gateway.auth;
    const token = await gw.token("dave", ["approver"]);
    assert.equal(decodeJwt(token).client_id, "wheelhouse-token");
    const remote = createAuthenticator({ config, verifiedTtlMs: 0 });
    const principal = await remote.verify(token);
    assert.equal(principal.actor.id, "dave");
    assert.deepEqual(principal.actor.roles, ["approver"]);
  });

  it("keeps its keys across restarts (tokens stay valid) in the folder it was given", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-dev-issuer-"));
    try {
      const first = await loadDevIssuer(dir, issuer);
      const second = await loadDevIssuer(dir, issuer);
      assert.deepEqual(second.jwks(), first.jwks());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

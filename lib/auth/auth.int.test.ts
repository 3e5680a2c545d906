import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type OidcFixture, startOidcFixture } from "../../test/fixtures/oidc/server.ts";
import { waitFor } from "../../test/support/index.ts";
import { parseConfig } from "../config/index.ts";
import { ForbiddenError, UnauthenticatedError } from "../errors/index.ts";
import { createAuthenticator, loadDevIssuer, requireRole, rolesFromClaims } from "./index.ts";

describe("lib/auth against a local OIDC issuer", () => {
  let idp: OidcFixture;
  let config: ReturnType<typeof parseConfig>["gateway"]["auth"];

  before(async () => {
    idp = await startOidcFixture();
    config = parseConfig({ gateway: { auth: { issuer: idp.issuer, jwks_url: idp.jwksUrl, algorithms: ["RS256"] } } })
      .gateway.auth;
  });
  after(() => idp.stop());

  const refused = async (auth: ReturnType<typeof createAuthenticator>, token: string, pattern: RegExp) => {
    await assert.rejects(auth.verify(token), (e: unknown) => {
      assert.ok(e instanceof UnauthenticatedError, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  };

  it("accepts a valid token and maps groups to roles", async () => {
    const auth = createAuthenticator({ config });
    const token = await idp.sign({ sub: "alice", groups: ["wheelhouse-operators", "other", "wheelhouse-approvers"] });
    const { actor } = await auth.verify(token);
    // With no group_map, every group the claim names is also an approver group (for quorum).
    assert.deepEqual(actor, {
      kind: "user",
      id: "alice",
      roles: ["approver", "operator"],
      groups: ["other", "wheelhouse-approvers", "wheelhouse-operators"],
    });
  });

  it("identifies a person by sub alone, and refuses a token without one, naming the claim and the fix", async () => {
    const auth = createAuthenticator({ config });
    const both = await auth.verify(await idp.sign({ sub: "u-8f3a", email: "alice@example.com" }));
    assert.equal(both.actor.id, "u-8f3a");
    assert.equal(both.actor.display_name, "alice@example.com");
    for (const claims of [
      { email: "alice@example.com", name: "Alice" },
      { sub: "", email: "alice@example.com" },
    ]) {
      await assert.rejects(auth.verify(await idp.sign(claims)), (e: unknown) => {
        assert.ok(e instanceof UnauthenticatedError, String(e));
        assert.match(e.message, /"sub" claim/);
        assert.equal(e.field, "sub");
        assert.match(e.fix ?? "", /identity provider must issue a sub claim/);
        return true;
      });
    }
  });

  it("refuses expired, not-yet-valid, wrong issuer, wrong audience", async () => {
    const auth = createAuthenticator({ config });
    const now = Math.floor(Date.now() / 1000);
    await refused(auth, await idp.sign({ sub: "a" }, { expiresIn: now - 120 }), /expired/);
    await refused(auth, await idp.sign({ sub: "a" }, { notBefore: now + 600 }), /"nbf"/);
    await refused(auth, await idp.sign({ sub: "a" }, { issuer: "https://evil.example" }), /"iss"/);
    await refused(auth, await idp.sign({ sub: "a" }, { audience: "someone-else" }), /"aud"/);
  });

  it("tolerates clock skew within the bound only", async () => {
    const auth = createAuthenticator({ config });
    const now = Math.floor(Date.now() / 1000);
    const { actor } = await auth.verify(await idp.sign({ sub: "a" }, { expiresIn: now - 10 }));
    assert.equal(actor.id, "a");
    await refused(auth, await idp.sign({ sub: "a" }, { expiresIn: now - 31 }), /expired/);
  });

  it("refuses a token issued in the future, one older than max_token_age_seconds and one made to live longer", async () => {
    const auth = createAuthenticator({ config: { ...config, max_token_age_seconds: 3600 } });
    const now = Math.floor(Date.now() / 1000);
    const year = 365 * 24 * 3600;
    await refused(auth, await idp.sign({ sub: "a" }, { issuedAt: now + year, expiresIn: now + year + 300 }), /future/);
    await refused(auth, await idp.sign({ sub: "a" }, { issuedAt: now - 7200, expiresIn: now + 300 }), /issued more/);
    await refused(auth, await idp.sign({ sub: "a" }, { expiresIn: now + 10 * year }), /valid for \d+ s, longer/);
    // Within the clock skew and the age, both ways: accepted.
    const { actor } = await auth.verify(await idp.sign({ sub: "a" }, { issuedAt: now + 10, expiresIn: now + 3600 }));
    assert.equal(actor.id, "a");
    await auth.verify(await idp.sign({ sub: "b" }, { issuedAt: now - 3500, expiresIn: now + 60 }));
    // The default allows a day, the longest token `npm run token` mints, and no more.
    const byDefault = createAuthenticator({ config });
    await byDefault.verify(await idp.sign({ sub: "c" }, { expiresIn: now + 24 * 3600 }));
    await refused(byDefault, await idp.sign({ sub: "c" }, { expiresIn: now + 10 * year }), /longer/);
  });

  it("refuses an unknown kid, a tampered signature, alg none and HS256 keyed with the public key", async () => {
    const auth = createAuthenticator({ config });
    await refused(auth, await idp.sign({ sub: "a" }, { kid: "nope" }), /kid/);
    const good = await idp.sign({ sub: "alice", groups: ["wheelhouse-viewers"] });
    const [h, p, s] = good.split(".");
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p ?? "", "base64url").toString()), groups: ["wheelhouse-admins"] }),
    ).toString("base64url");
    await refused(auth, `${h}.${forgedPayload}.${s}`, /signature/);
    await refused(auth, idp.forgeAlgNone({ sub: "mallory", groups: ["wheelhouse-admins"] }), /algorithm|not a valid/);
    await refused(auth, idp.forgeHs256WithPublicKey({ sub: "mallory", groups: ["wheelhouse-admins"] }), /algorithm/);
  });

  it("picks up a rotated key after the cooldown, without refetching for every unknown kid", async () => {
    const auth = createAuthenticator({ config, cooldownMs: 200 });
    await auth.verify(await idp.sign({ sub: "a" }));
    const fetchesBefore = idp.jwksFetches();
    const newKid = await idp.rotate();
    // Inside the cooldown an unknown kid does not refetch: a flood of forged kids cannot hammer the IdP.
    await refused(auth, await idp.sign({ sub: "a" }, { kid: "unknown-1" }), /kid/);
    await refused(auth, await idp.sign({ sub: "a" }, { kid: "unknown-2" }), /kid/);
    assert.ok(idp.jwksFetches() - fetchesBefore <= 1);
    // Once the cooldown has passed, the new kid is fetched and accepted.
    const { actor } = await waitFor(
      "a token signed with the rotated key to be accepted",
      async () => auth.verify(await idp.sign({ sub: "rotated" }, { kid: newKid })),
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    assert.equal(actor.id, "rotated");
  });

  it("reads Authorization headers strictly", async () => {
    const auth = createAuthenticator({ config });
    await assert.rejects(auth.authenticate(undefined), UnauthenticatedError);
    await assert.rejects(auth.authenticate("Basic abc"), UnauthenticatedError);
    const { actor } = await auth.authenticate(`Bearer ${await idp.sign({ sub: "bob" })}`);
    assert.equal(actor.id, "bob");
  });

  it("maps roles from a nested claim and checks role requirements", () => {
    const roles = rolesFromClaims(
      { realm_access: { roles: ["ops", "x"] } },
      { roles_claim: "realm_access.roles", role_map: { ops: "operator" } },
    );
    assert.deepEqual(roles, ["operator"]);
    requireRole({ kind: "user", id: "a", roles: ["admin"] }, "approver");
    assert.throws(() => requireRole({ kind: "user", id: "a", roles: ["operator"] }, "approver"), ForbiddenError);
  });

  it("the dev issuer mints tokens the authenticator accepts, with keys kept on disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-dev-issuer-"));
    try {
      const devConfig = parseConfig({ gateway: { auth: { mode: "dev" } } }).gateway.auth;
      const dev = await loadDevIssuer(dir, devConfig.issuer);
      const again = await loadDevIssuer(dir, devConfig.issuer);
      assert.deepEqual(again.jwks(), dev.jwks());
      const token = await dev.mint({
        sub: "alice",
        roles: ["operator", "approver"],
        audience: devConfig.audience,
        rolesClaim: devConfig.roles_claim,
        roleMap: devConfig.role_map,
      });
      const auth = createAuthenticator({ config: devConfig, jwks: dev.jwks() });
      const { actor } = await auth.verify(token);
      assert.deepEqual(actor.roles, ["approver", "operator"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../config/index.ts";
import { createAuthenticator, type DevIssuer, loadDevIssuer } from "./index.ts";
import { createVerifiedTokens } from "./verified-tokens.ts";

describe("verified tokens", () => {
  it("keeps an entry until its expiry or the ttl, whichever is first, and no longer", () => {
    let now = 1_000_000;
    const cache = createVerifiedTokens<string>({ ttlMs: 60_000, maxEntries: 10, now: () => now });
    cache.set("short", "a", now + 5_000);
    cache.set("long", "b", now + 3_600_000);
    cache.set("expired", "c", now);
    assert.equal(cache.get("short"), "a");
    assert.equal(cache.get("expired"), undefined);
    now += 5_000;
    assert.equal(cache.get("short"), undefined, "past the token's own expiry");
    assert.equal(cache.get("long"), "b");
    now += 55_000;
    assert.equal(cache.get("long"), undefined, "past the ttl");
  });

  it("holds at most maxEntries, dropping the oldest; ttl 0 keeps nothing", () => {
    const now = () => 0;
    const cache = createVerifiedTokens<number>({ ttlMs: 60_000, maxEntries: 3, now });
    for (let i = 0; i < 5; i++) cache.set(`t${i}`, i, 1_000);
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => cache.get(`t${i}`)),
      [undefined, undefined, 2, 3, 4],
    );
    const off = createVerifiedTokens<number>({ ttlMs: 0, maxEntries: 3, now });
    off.set("t", 1, 1_000);
    assert.equal(off.get("t"), undefined);
  });
});

describe("the authenticator with verified tokens", () => {
  const config = parseConfig({ gateway: { auth: { mode: "dev" } } }).gateway.auth;
  let dir: string;
  let issuer: DevIssuer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "wh-verified-"));
    issuer = await loadDevIssuer(dir, config.issuer);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const mint = (ttlSeconds: number) =>
    issuer.mint({
      sub: "vic",
      roles: ["viewer"],
      audience: config.audience,
      rolesClaim: config.roles_claim,
      roleMap: config.role_map,
      ttlSeconds,
    });

  it("answers a repeated token from the cache, and refuses it once expired as without the cache", async () => {
    let clock = Date.now();
    const auth = createAuthenticator({ config, jwks: issuer.jwks(), now: () => new Date(clock) });
    const token = await mint(120);
    const first = await auth.verify(token);
    const second = await auth.verify(token);
    assert.equal(second, first, "the second verification is the cached principal");
    assert.ok(
      Object.isFrozen(first.actor) && Object.isFrozen(first.actor.roles),
      "a shared principal cannot be changed",
    );
    clock += (120 + config.clock_skew_seconds + 1) * 1000;
    await assert.rejects(auth.verify(token), /expired/);
  });

  it("does not keep refusals: a bad token is checked (and refused) every time", async () => {
    const auth = createAuthenticator({ config, jwks: issuer.jwks() });
    const token = await mint(120);
    const tampered = `${token.slice(0, -4)}${token.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    await assert.rejects(auth.verify(tampered), /signature/);
    await assert.rejects(auth.verify(tampered), /signature/);
    assert.equal((await auth.verify(token)).actor.id, "vic");
  });
});

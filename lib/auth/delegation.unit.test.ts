/**
 * On-behalf-of tokens: the gateway takes the service's token for the person it names, with the
 * roles capped and the channel marked, and refuses one signed with another key, expired, made to
 * live longer than 60 s, or naming no one; every other token goes to the base authenticator.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { SignJWT } from "jose";
import { UnauthenticatedError } from "../errors/index.ts";
import { createDelegationMinter } from "./delegation.ts";
import { type Authenticator, type Principal, withDelegation } from "./index.ts";

const keys = generateKeyPairSync("ed25519");
const settings = { service: "chatops", channel: "slack" as const, audience: "wheelhouse" };
const base: Authenticator = {
  verify: async (token) => {
    if (token !== "base-token") throw new UnauthenticatedError("not a base token");
    return { actor: { kind: "user", id: "from-base", roles: ["viewer"] }, claims: {} } satisfies Principal;
  },
  authenticate: async (header) => base.verify(header?.replace(/^Bearer /, "") ?? ""),
};
const gateway = (now?: () => Date) =>
  withDelegation(base, {
    ...settings,
    verifyKey: keys.publicKey,
    maxRoles: ["viewer", "operator", "approver"],
    ...(now ? { now } : {}),
  });

describe("on-behalf-of tokens", () => {
  it("names the person, caps their roles and marks the channel", async () => {
    const token = await createDelegationMinter({ ...settings, signingKey: keys.privateKey }).mint({
      sub: "alice",
      roles: ["approver", "admin"],
      groups: ["sre"],
    });
    const principal = await gateway().authenticate(`Bearer ${token}`);
    assert.deepEqual(principal.actor, { kind: "user", id: "alice", roles: ["approver"], groups: ["sre"] });
    assert.deepEqual(principal.delegation, { service: "chatops", channel: "slack" });
    assert.equal((await gateway().authenticate("Bearer base-token")).actor.id, "from-base");
  });

  it("refuses another key, an expired token, a 10-minute one, another channel and no person", async () => {
    const other = generateKeyPairSync("ed25519").privateKey;
    const forged = await createDelegationMinter({ ...settings, signingKey: other }).mint({
      sub: "bob",
      roles: ["approver"],
    });
    await assert.rejects(gateway().verify(forged), /signature that does not verify/);
    const minted = await createDelegationMinter({ ...settings, signingKey: keys.privateKey }).mint({
      sub: "bob",
      roles: [],
    });
    await assert.rejects(gateway(() => new Date(Date.now() + 5 * 60_000)).verify(minted), UnauthenticatedError);
    const sign = (claims: Record<string, unknown>, lifetime = 60) => {
      const iat = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA" })
        .setIssuer("wheelhouse-delegate:chatops")
        .setSubject("service:chatops")
        .setAudience("wheelhouse")
        .setIssuedAt(iat)
        .setExpirationTime(iat + lifetime)
        .setJti("j")
        .sign(keys.privateKey);
    };
    const person = { on_behalf_of: { sub: "bob", roles: ["approver"] } };
    await assert.rejects(gateway().verify(await sign({ ...person, channel: "slack" }, 600)), /longer than 60 s/);
    await assert.rejects(gateway().verify(await sign({ ...person, channel: "api" })), /names channel api/);
    await assert.rejects(gateway().verify(await sign({ channel: "slack" })), /names no person/);
  });
});

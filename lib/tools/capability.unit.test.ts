import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SignJWT } from "jose";
import { parseConfig } from "../config/index.ts";
import { ConfigError, ForbiddenError, UnauthenticatedError, type WheelhouseError } from "../errors/index.ts";
import {
  type CapabilityGrant,
  createCapabilityMinter,
  createCapabilityVerifier,
  embeddedCapabilityKeys,
  generateCapabilityKeys,
  loadVerifyKey,
  requireSigningKey,
  requireVerifyKey,
  toolInputSha256,
} from "./capability.ts";

const T0 = new Date("2026-03-01T12:00:00Z");
const keys = generateCapabilityKeys();
const grant: CapabilityGrant = {
  purpose: "execute",
  execution_id: "ex-1",
  step_id: "s1",
  action_id: "kubectl.scale",
  input: { kind: "deployment", name: "checkout", namespace: "shop", replicas: 4 },
  tool_call_id: "ex-1-s1",
  dry_run: false,
  plan_id: "plan-1",
  plan_revision: 2,
  plan_digest: "ab".repeat(32),
};
/** The call the grant covers, as the router sees it in a request body. */
const call = {
  purpose: "execute" as const,
  execution_id: "ex-1",
  step_id: "s1",
  action_id: "kubectl.scale",
  // Same input, keys in another order: the canonical form is what is bound.
  input: { replicas: 4, namespace: "shop", name: "checkout", kind: "deployment" },
  tool_call_id: "ex-1-s1",
  dry_run: false,
};

const at = (ms: number) => () => new Date(T0.getTime() + ms);
const minter = createCapabilityMinter({ signingKey: keys.signingKey, now: at(0) });
const verifierAt = (ms: number) => createCapabilityVerifier({ verifyKey: keys.verifyKey, now: at(ms) });

async function refusal(promise: Promise<unknown>): Promise<WheelhouseError> {
  try {
    await promise;
  } catch (error) {
    return error as WheelhouseError;
  }
  assert.fail("expected a refusal");
}

describe("tool-call capabilities: mint and verify", () => {
  it("a minted capability verifies for exactly its call and says what it binds", async () => {
    const token = await minter.mint(grant, { ttlMs: 150_000 });
    const claims = await verifierAt(1000).verify(token, call);
    assert.equal(claims.input_sha256, toolInputSha256(grant.input));
    assert.equal(claims.plan_digest, grant.plan_digest);
    assert.equal(claims.plan_revision, 2);
    assert.equal(claims.exp - claims.iat, 150);
    assert.equal(token.split(".").length, 3, "a compact JWS");
    const header = JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString("utf8"));
    assert.equal(header.alg, "EdDSA");
    assert.equal(JSON.stringify(claims).includes("checkout"), false, "the input itself is not in the capability");
  });

  it("refuses: no capability is 401, everything else 403 naming what is wrong", async () => {
    const other = generateCapabilityKeys();
    const foreign = await createCapabilityMinter({ signingKey: other.signingKey, now: at(0) }).mint(grant, {
      ttlMs: 60_000,
    });
    const token = await minter.mint(grant, { ttlMs: 60_000 });
    const [h, p, s] = token.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    const reSigned = `${h}.${Buffer.from(JSON.stringify({ ...payload, step_id: "s2" })).toString("base64url")}.${s}`;
    const long = await minter.mint(grant, { ttlMs: 10 * 3_600_000 });
    const future = await createCapabilityMinter({ signingKey: keys.signingKey, now: at(3_600_000) }).mint(grant, {
      ttlMs: 60_000,
    });
    const hs256 = await new SignJWT(payload)
      .setProtectedHeader({ alg: "HS256", typ: "wh-capability+jwt" })
      .sign(new TextEncoder().encode("a shared secret someone guessed"));
    const read = await minter.mint({ ...grant, purpose: "read" }, { ttlMs: 60_000 });
    const dryRun = await minter.mint({ ...grant, dry_run: true }, { ttlMs: 60_000 });

    const table: {
      name: string;
      token: string | null;
      call?: typeof call;
      now?: number;
      status: number;
      says: RegExp;
    }[] = [
      { name: "none", token: null, status: 401, says: /carries no capability/ },
      { name: "not a JWS", token: "let-me-in", status: 403, says: /not a compact JWS/ },
      { name: "expired", token, now: 61_000 + 6_000, status: 403, says: /expired/ },
      { name: "another key", token: foreign, status: 403, says: /signature does not verify/ },
      { name: "claims edited after signing", token: reSigned, status: 403, says: /signature does not verify/ },
      { name: "HS256 instead of EdDSA", token: hs256, status: 403, says: /not signed with EdDSA/ },
      { name: "lives too long", token: long, status: 403, says: /lives longer/ },
      { name: "issued in the future", token: future, status: 403, says: /issued in the future/ },
      { name: "purpose read used to execute", token: read, status: 403, says: /for read, not execute/ },
      { name: "dry-run capability used for the write", token: dryRun, status: 403, says: /dry_run differ/ },
      { name: "another step", token, call: { ...call, step_id: "s2" }, status: 403, says: /step_id differ/ },
      { name: "another action", token, call: { ...call, action_id: "kubectl.delete" }, status: 403, says: /action_id/ },
      {
        name: "input tampered",
        token,
        call: { ...call, input: { ...call.input, replicas: 0 } },
        status: 403,
        says: /input differ/,
      },
      { name: "another execution", token, call: { ...call, execution_id: "ex-2" }, status: 403, says: /execution_id/ },
      {
        name: "another tool call",
        token,
        call: { ...call, tool_call_id: "ex-1-s9" },
        status: 403,
        says: /tool_call_id/,
      },
    ];
    for (const row of table) {
      const error = await refusal(verifierAt(row.now ?? 1000).verify(row.token, row.call ?? call));
      assert.equal(error.status, row.status, row.name);
      assert.ok(row.status === 401 ? error instanceof UnauthenticatedError : error instanceof ForbiddenError, row.name);
      assert.match(error.message, row.says, row.name);
      assert.equal(error.field, "wheelhouse-capability", row.name);
      assert.ok(error.fix, row.name);
      assert.equal(error.message.includes("s2") || error.message.includes("kubectl.delete"), false, "no echo");
    }
  });

  it("an execute capability is good for one call only", async () => {
    const verifier = verifierAt(1000);
    const token = await minter.mint(grant, { ttlMs: 60_000 });
    await verifier.verify(token, call);
    const again = await refusal(verifier.verify(token, call));
    assert.equal(again.status, 403);
    assert.match(again.message, /already used/);
  });

  it("a logs capability covers its tool call's log stream, and may be used again to resume it", async () => {
    const verifier = verifierAt(1000);
    const token = await minter.mint({ ...grant, purpose: "logs" }, { ttlMs: 60_000 });
    await verifier.verify(token, { purpose: "logs", tool_call_id: "ex-1-s1" });
    await verifier.verify(token, { purpose: "logs", tool_call_id: "ex-1-s1" });
    const other = await refusal(verifier.verify(token, { purpose: "logs", tool_call_id: "ex-9-s1" }));
    assert.match(other.message, /tool_call_id differ/);
  });
});

describe("tool-call capability keys", () => {
  const dir = mkdtempSync(join(tmpdir(), "wh-capkeys-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return `file:${path}`;
  };
  const pair = generateKeyPairSync("ed25519");
  const privatePem = write("cap.pem", pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString());
  const publicPem = write("cap.pub.pem", pair.publicKey.export({ format: "pem", type: "spki" }).toString());
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const rsaPublic = write("rsa.pub.pem", rsa.publicKey.export({ format: "pem", type: "spki" }).toString());

  it("a router alone without a verify key, or with a private or non-Ed25519 key, does not start", () => {
    assert.throws(
      () => requireVerifyKey(parseConfig({})),
      (e: unknown) => e instanceof ConfigError && e.issues[0]?.field === "tools.capability_verify_key",
    );
    assert.throws(
      () => loadVerifyKey(privatePem, "tools.capability_verify_key"),
      (e: unknown) => e instanceof ConfigError && /only the public half/.test(e.message),
    );
    assert.throws(
      () => loadVerifyKey(rsaPublic, "tools.capability_verify_key"),
      (e: unknown) => e instanceof ConfigError && /Ed25519/.test(e.message),
    );
    assert.throws(
      () => requireSigningKey(parseConfig({})),
      (e: unknown) => e instanceof ConfigError && e.issues[0]?.field === "orchestrator.capability_signing_key",
    );
  });

  it("configured keys sign and verify across processes", async () => {
    const config = parseConfig({
      orchestrator: { capability_signing_key: privatePem },
      tools: { capability_verify_key: publicPem },
    });
    const token = await createCapabilityMinter({ signingKey: requireSigningKey(config), now: at(0) }).mint(grant, {
      ttlMs: 60_000,
    });
    const verifier = createCapabilityVerifier({ verifyKey: requireVerifyKey(config), now: at(1000) });
    assert.equal((await verifier.verify(token, call)).step_id, "s1");
  });

  it("the embedded profile: a fresh pair when none is configured, the public half derived when only the private is", () => {
    const fresh = embeddedCapabilityKeys(parseConfig({}));
    assert.equal(fresh.signingKey.asymmetricKeyType, "ed25519");
    assert.equal(fresh.verifyKey.type, "public");
    const derived = embeddedCapabilityKeys(parseConfig({ orchestrator: { capability_signing_key: privatePem } }));
    assert.equal(
      derived.verifyKey.export({ format: "pem", type: "spki" }).toString(),
      pair.publicKey.export({ format: "pem", type: "spki" }).toString(),
    );
    const other = generateKeyPairSync("ed25519");
    const otherPublic = write("other.pub.pem", other.publicKey.export({ format: "pem", type: "spki" }).toString());
    assert.throws(
      () =>
        embeddedCapabilityKeys(
          parseConfig({
            orchestrator: { capability_signing_key: privatePem },
            tools: { capability_verify_key: otherPublic },
          }),
        ),
      (e: unknown) => e instanceof ConfigError && /not the public half/.test(e.message),
    );
    assert.throws(
      () => embeddedCapabilityKeys(parseConfig({ tools: { capability_verify_key: publicPem } })),
      (e: unknown) => e instanceof ConfigError && e.issues[0]?.field === "orchestrator.capability_signing_key",
    );
  });
});

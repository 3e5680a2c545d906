import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { nkeys } from "@nats-io/transport-node";
import { parseConfig } from "../config/index.ts";
import { ConfigError } from "../errors/index.ts";
import { natsCredentials } from "./nats.ts";

const dir = mkdtempSync(join(tmpdir(), "wh-nats-creds-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const newSeed = () => new TextDecoder().decode(nkeys.createUser().getSeed());
const publicKeyOf = (seed: string) => nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey();
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};
/** What the client would send in CONNECT for a server nonce. */
const presented = (creds: ReturnType<typeof natsCredentials>) =>
  creds?.authenticator("nonce") as Record<string, unknown> | undefined;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

describe("natsCredentials", () => {
  it("in the embedded profile, presents the local stack's seed of the process, else the embedded one", () => {
    const dataDir = join(dir, "data");
    const authDir = join(dataDir, "nats", "auth");
    mkdirSync(authDir, { recursive: true });
    const config = parseConfig({ data_dir: dataDir });
    assert.equal(natsCredentials(config, "gateway"), null, "no seeds written: no credentials");

    const embedded = newSeed();
    writeFileSync(join(authDir, "embedded.nk"), `${embedded}\n`);
    const gateway = newSeed();
    writeFileSync(join(authDir, "gateway.nk"), `${gateway}\n`);

    const asGateway = natsCredentials(config, "gateway");
    assert.equal(asGateway?.source, `file:${join(authDir, "gateway.nk")}`);
    assert.equal(presented(asGateway)?.nkey, publicKeyOf(gateway));
    assert.equal(presented(natsCredentials(config, "wheelhouse"))?.nkey, publicKeyOf(embedded));
    assert.equal(natsCredentials(parseConfig({ profile: "production", data_dir: dataDir }), "gateway"), null);
  });

  it("uses nats.credentials as given: an nkey seed or a .creds file", () => {
    const seed = newSeed();
    const seedRef = `file:${file("user.nk", `${seed}\n`)}`;
    const fromSeed = presented(natsCredentials(parseConfig({ nats: { credentials: seedRef } }), "gateway"));
    assert.equal(fromSeed?.nkey, publicKeyOf(seed));
    assert.equal(typeof fromSeed?.sig, "string");

    const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln";
    const creds = `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
    const fromCreds = presented(
      natsCredentials(parseConfig({ nats: { credentials: `file:${file("user.creds", creds)}` } }), "gateway"),
    );
    assert.equal(fromCreds?.jwt, jwt);
  });

  it("refuses a credentials reference that is missing or holds something else, naming the field", () => {
    const missing = configError(() =>
      natsCredentials(parseConfig({ nats: { credentials: `file:${join(dir, "nope.nk")}` } }), "gateway"),
    );
    assert.equal(missing.issues[0]?.field, "nats.credentials");
    const garbage = configError(() =>
      natsCredentials(parseConfig({ nats: { credentials: `file:${file("garbage", "hunter2")}` } }), "gateway"),
    );
    assert.equal(garbage.issues[0]?.field, "nats.credentials");
    assert.doesNotMatch(garbage.message, /hunter2/);
  });

  it("takes a user and a password reference, and refuses half or both kinds", () => {
    const config = parseConfig({ nats: { user: "wheelhouse", password: "env:WH_TEST_NATS_PASSWORD" } });
    process.env.WH_TEST_NATS_PASSWORD = "s3cret";
    try {
      assert.deepEqual(presented(natsCredentials(config, "gateway")), { user: "wheelhouse", pass: "s3cret" });
    } finally {
      delete process.env.WH_TEST_NATS_PASSWORD;
    }
    assert.equal(
      configError(() => natsCredentials(config, "gateway")).issues[0]?.field,
      "nats.password",
      "an unset password variable is an error, not an anonymous login",
    );
    assert.equal(
      configError(() => natsCredentials(parseConfig({ nats: { password: "env:X" } }), "gateway")).issues[0]?.field,
      "nats.user",
    );
    const both = parseConfig({ nats: { user: "u", password: "env:X", credentials: "file:/x" } });
    assert.equal(configError(() => natsCredentials(both, "gateway")).issues[0]?.field, "nats.user");
  });
});

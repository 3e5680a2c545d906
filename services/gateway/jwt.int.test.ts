/** Every forged or invalid token is refused at the HTTP edge, and nothing is appended. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";

describe("JWT verification at the gateway (local JWKS issuer over HTTP)", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ projector: false });
  });
  after(() => gw.stop());

  const post = (token: string) =>
    fetch(`${gw.url}/v1/plans`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ intent: "scale checkout" }),
    });

  const claims = { sub: "mallory", groups: ["wheelhouse-admins"] };

  it("accepts a valid token (control)", async () => {
    assert.equal((await post(await gw.idp.sign(claims))).status, 202);
  });

  const cases: [string, () => Promise<string>][] = [
    ["expired", () => gw.idp.sign(claims, { expiresIn: Math.floor(Date.now() / 1000) - 300 })],
    ["not yet valid", () => gw.idp.sign(claims, { notBefore: Math.floor(Date.now() / 1000) + 600 })],
    ["wrong issuer", () => gw.idp.sign(claims, { issuer: "https://evil.example.com" })],
    ["wrong audience", () => gw.idp.sign(claims, { audience: "another-app" })],
    ["unknown kid", () => gw.idp.sign(claims, { kid: "kid-nobody-published" })],
    [
      "tampered signature",
      async () => {
        const [h, p, s] = (await gw.idp.sign({ ...claims, groups: ["wheelhouse-viewers"] })).split(".");
        const payload = JSON.parse(Buffer.from(p ?? "", "base64url").toString()) as Record<string, unknown>;
        const forged = Buffer.from(JSON.stringify({ ...payload, groups: ["wheelhouse-admins"] })).toString("base64url");
        return `${h}.${forged}.${s}`;
      },
    ],
    ["alg none", async () => gw.idp.forgeAlgNone(claims)],
    ["HS256 signed with the public key", async () => gw.idp.forgeHs256WithPublicKey(claims)],
    ["garbage", async () => "abc.def.ghi"],
  ];

  it("refuses a token without sub with 401 naming the claim, though it carries an email, and appends nothing", async () => {
    const before = await gw.eventCount();
    const res = await post(await gw.idp.sign({ email: "mallory@example.com", groups: ["wheelhouse-admins"] }));
    assert.equal(res.status, 401, await res.clone().text());
    const body = (await res.json()) as { code: string; detail?: string; field?: string; fix?: string };
    assert.equal(body.code, "unauthenticated");
    assert.equal(body.field, "sub");
    assert.match(body.detail ?? "", /no "sub" claim/);
    assert.match(body.fix ?? "", /identity provider must issue a sub claim/);
    assert.equal(await gw.eventCount(), before);
  });

  for (const [name, make] of cases) {
    it(`refuses ${name} with 401 and appends nothing`, async () => {
      const before = await gw.eventCount();
      const res = await post(await make());
      assert.equal(res.status, 401, await res.clone().text());
      const body = (await res.json()) as { code: string; fix?: string };
      assert.equal(body.code, "unauthenticated");
      assert.ok(body.fix);
      assert.equal(await gw.eventCount(), before);
    });
  }
});

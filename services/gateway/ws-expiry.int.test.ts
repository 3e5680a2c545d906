/**
 * A WebSocket lives no longer than its token: at the token's `exp` the gateway closes it with 4401
 * and says why; a fresh token for the same person sent over the socket keeps it open; a token for
 * someone else is refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { waitFor } from "../../test/support/index.ts";

interface Socket {
  readonly messages: { type: string; code?: string; detail?: string }[];
  closed(): { code: number; reason: string } | null;
  send(message: unknown): void;
}

async function open(url: string, token: string): Promise<Socket> {
  const ws = new WebSocket(url, ["wheelhouse.v1"]);
  const messages: Socket["messages"] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.addEventListener("message", (m) => messages.push(JSON.parse(String(m.data)) as Socket["messages"][number]));
  ws.addEventListener("close", (e) => {
    closed = { code: e.code, reason: e.reason };
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("the WebSocket did not open")), { once: true });
  });
  ws.send(JSON.stringify({ type: "auth", token }));
  await waitFor("ready", () => messages.find((m) => m.type === "ready"), { timeoutMs: 5_000, intervalMs: 10 });
  return { messages, closed: () => closed, send: (message) => ws.send(JSON.stringify(message)) };
}

describe("a WebSocket ends with its token", () => {
  let gw: TestGateway;
  let wsUrl: string;
  const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;
  const token = (sub: string, exp: number) => gw.idp.sign({ sub, groups: ["wheelhouse-viewers"] }, { expiresIn: exp });

  before(async () => {
    gw = await startTestGateway({ projector: false });
    wsUrl = `${gw.url.replace("http", "ws")}/v1/ws`;
  });
  after(() => gw.stop());

  it("closes with 4401 and the reason at the token's exp; a fresh token sent over it keeps the other open", async () => {
    const exp = inSeconds(2);
    const expiring = await open(wsUrl, await token("vic", exp));
    const renewed = await open(wsUrl, await token("vic", exp));
    renewed.send({ type: "auth", token: await token("vic", inSeconds(600)) });
    await waitFor("the renewal's ready", () => renewed.messages.filter((m) => m.type === "ready").length === 2, {
      timeoutMs: 5_000,
      intervalMs: 10,
    });

    const closed = await waitFor("the close at exp", () => expiring.closed(), { timeoutMs: 6_000, intervalMs: 20 });
    assert.equal(closed.code, 4401);
    assert.equal(closed.reason, "token expired");
    assert.ok(Date.now() >= exp * 1000 - 50, "not before the token's exp");
    const error = expiring.messages.find((m) => m.type === "error");
    assert.equal(error?.code, "unauthenticated");
    assert.match(error?.detail ?? "", /expired/);
    assert.equal(renewed.closed(), null, "the socket with a fresh token is still open");
  });

  it("refuses a token for another person over an open socket", async () => {
    const socket = await open(wsUrl, await token("vic", inSeconds(600)));
    socket.send({ type: "auth", token: await token("mallory", inSeconds(600)) });
    const closed = await waitFor("the close", () => socket.closed(), { timeoutMs: 5_000, intervalMs: 10 });
    assert.equal(closed.code, 4401);
    assert.match(socket.messages.find((m) => m.type === "error")?.detail ?? "", /vic's/);
  });
});

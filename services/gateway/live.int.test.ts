/** WebSocket subscriptions and SSE logs against the real event store. */
import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Actor, newEvent } from "../../events/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { waitFor } from "../../test/support/index.ts";

const actor: Actor = { kind: "service", id: "test", roles: [] };

interface Received {
  type: string;
  topic?: string;
  seq?: number;
  event?: { aggregate_id: string; type: string; payload: Record<string, unknown> };
  at: number;
}

/** A WebSocket client (Node's built-in) that records what it receives and when. */
async function openClient(url: string, protocols?: string[]) {
  const ws = new WebSocket(url, protocols);
  const received: Received[] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.addEventListener("message", (m) => {
    received.push({ ...(JSON.parse(String(m.data)) as Omit<Received, "at">), at: performance.now() });
  });
  ws.addEventListener("close", (e) => {
    closed = { code: e.code, reason: e.reason };
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("websocket failed to open")), { once: true });
  });
  return {
    ws,
    received,
    closed: () => closed,
    events: () => received.filter((r) => r.type === "event"),
    send: (m: unknown) => ws.send(JSON.stringify(m)),
    async waitFor(type: string) {
      return waitFor(`a ${type} message`, () => received.find((r) => r.type === type), {
        timeoutMs: 5_000,
        intervalMs: 5,
      });
    },
    close: () => ws.close(),
  };
}

describe("live updates", () => {
  let gw: TestGateway;
  let token: string;
  let wsUrl: string;

  before(async () => {
    gw = await startTestGateway({ projector: false, wsMaxBufferedBytes: 64 * 1024 });
    token = await gw.token("vic", ["viewer"]);
    wsUrl = `${gw.url.replace("http", "ws")}/v1/ws`;
  });
  after(() => gw.stop());

  const requested = (planId: string, service = "checkout") =>
    newEvent(
      "plan.requested",
      planId,
      { plan_id: planId, intent: "scale", source: "api", service },
      { actor, correlation_id: "c" },
    );

  it("a subscriber (token in Sec-WebSocket-Protocol) sees an appended event within 100 ms", async () => {
    const client = await openClient(wsUrl, ["wheelhouse.v1", `bearer.${token}`]);
    await client.waitFor("ready");
    client.send({ type: "subscribe", topics: ["plan.updated"] });
    await client.waitFor("subscribed");
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const planId = `ws-lat-${i}-${Date.now()}`;
      const t0 = performance.now();
      await gw.store.append([requested(planId)]);
      const got = await waitFor("the event", () => client.events().find((e) => e.event?.aggregate_id === planId), {
        timeoutMs: 2_000,
        intervalMs: 1,
      });
      latencies.push(got.at - t0);
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[latencies.length - 1] ?? Infinity;
    assert.ok(p99 < 100, `slowest delivery took ${p99.toFixed(1)} ms`);
    client.close();
  });

  it("authenticates with ?access_token= or the first message, and refuses without a valid token", async () => {
    const viaQuery = await openClient(`${wsUrl}?access_token=${token}`);
    await viaQuery.waitFor("ready");
    viaQuery.close();
    const viaMessage = await openClient(wsUrl);
    viaMessage.send({ type: "auth", token });
    await viaMessage.waitFor("ready");
    viaMessage.close();
    const bad = await openClient(`${wsUrl}?access_token=not-a-token`);
    await waitFor("close 4401", () => bad.closed()?.code === 4401, { timeoutMs: 5_000 });
    const early = await openClient(wsUrl);
    early.send({ type: "subscribe", topics: ["plan.updated"] });
    await waitFor("close 4401", () => early.closed()?.code === 4401, { timeoutMs: 5_000 });
  });

  it("filters by plan and by service, and tags each topic", async () => {
    const client = await openClient(wsUrl, ["wheelhouse.v1", `bearer.${token}`]);
    await client.waitFor("ready");
    const planId = `ws-filter-${Date.now()}`;
    client.send({ type: "subscribe", topics: ["plan.updated", "audit.created"], filters: { plan_id: planId } });
    await client.waitFor("subscribed");
    await gw.store.append([requested(`other-${Date.now()}`)]);
    await gw.store.append([requested(planId)]);
    await waitFor("two messages", () => client.events().length >= 2, { timeoutMs: 2_000 });
    assert.deepEqual(
      client
        .events()
        .map((e) => [e.topic, e.event?.aggregate_id])
        .sort(),
      [
        ["audit.created", planId],
        ["plan.updated", planId],
      ],
    );
    client.send({ type: "subscribe", topics: ["plan.updated"], filters: { service: "payments" } });
    await waitFor("resubscribed", () => client.received.filter((r) => r.type === "subscribed").length === 2);
    const before = client.events().length;
    await gw.store.append([requested(`svc-a-${Date.now()}`, "checkout")]);
    await gw.store.append([requested(`svc-b-${Date.now()}`, "payments")]);
    await waitFor("the payments event", () => client.events().length > before, { timeoutMs: 2_000 });
    assert.equal(client.events().slice(before)[0]?.event?.payload.service, "payments");
    client.close();
  });

  it("after a reconnect with its cursor, a subscriber misses nothing", async () => {
    const first = await openClient(wsUrl, ["wheelhouse.v1", `bearer.${token}`]);
    await first.waitFor("ready");
    first.send({ type: "subscribe", topics: ["plan.updated"] });
    await first.waitFor("subscribed");
    const base = `ws-resume-${Date.now()}`;
    await gw.store.append([requested(`${base}-0`)]);
    const seen = await waitFor("the first event", () =>
      first.events().find((e) => e.event?.aggregate_id === `${base}-0`),
    );
    first.close();
    await waitFor("closed", () => first.closed() !== null);
    const missed: string[] = [];
    for (let i = 1; i <= 5; i++) {
      missed.push(`${base}-${i}`);
      await gw.store.append([requested(`${base}-${i}`)]);
    }
    const second = await openClient(wsUrl, ["wheelhouse.v1", `bearer.${token}`]);
    await second.waitFor("ready");
    second.send({ type: "subscribe", topics: ["plan.updated"], cursor: seen.seq });
    await waitFor("the missed events", () => second.events().length >= 5, { timeoutMs: 5_000 });
    assert.deepEqual(
      second.events().map((e) => e.event?.aggregate_id),
      missed,
    );
    const seqs = second.events().map((e) => e.seq ?? 0);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.ok((seqs[0] ?? 0) > (seen.seq ?? 0));
    // And it keeps receiving live events after catching up.
    await gw.store.append([requested(`${base}-live`)]);
    await waitFor("a live event", () => second.events().some((e) => e.event?.aggregate_id === `${base}-live`));
    second.close();
  });

  it("closes a subscriber that stops reading (1013) instead of buffering without bound; others keep up", async () => {
    const fast = await openClient(wsUrl, ["wheelhouse.v1", `bearer.${token}`]);
    await fast.waitFor("ready");
    fast.send({ type: "subscribe", topics: ["plan.updated"] });
    await fast.waitFor("subscribed");
    // A raw TCP client that completes the handshake, subscribes, then never reads again.
    const { port } = new URL(gw.url);
    const slow = tcpConnect(Number(port), "127.0.0.1");
    await new Promise<void>((resolve) => slow.once("connect", () => resolve()));
    slow.write(
      `GET /v1/ws?access_token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    await new Promise<void>((resolve) => slow.once("data", () => resolve()));
    const frame = (text: string) => {
      const payload = Buffer.from(text);
      const mask = Buffer.from([1, 2, 3, 4]);
      const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
      return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
    };
    // Read until the server confirms the subscription, then stop reading for good.
    let fromServer = "";
    const collect = (d: Buffer) => {
      fromServer += d.toString("latin1");
    };
    slow.on("data", collect);
    slow.write(frame(JSON.stringify({ type: "subscribe", topics: ["plan.updated"] })));
    await waitFor("the slow subscriber's subscription confirmed", () => fromServer.includes('"type":"subscribed"'), {
      timeoutMs: 5_000,
    });
    slow.off("data", collect);
    slow.pause();
    const planId = `ws-flood-${Date.now()}`;
    const reason = "x".repeat(4000);
    const flood = (n: number) =>
      Array.from({ length: n }, () =>
        newEvent("plan.failed", planId, { plan_id: planId, reasons: [reason] }, { actor, correlation_id: "c" }),
      );
    const metricValue = async () => {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      return Number(/wheelhouse_ws_slow_consumers_dropped_total (\d+)/.exec(text)?.[1] ?? 0);
    };
    let appended = 0;
    for (let i = 0; i < 12 && (await metricValue()) === 0; i++) {
      await gw.store.append(flood(500));
      appended += 500;
    }
    await waitFor("the slow subscriber dropped", async () => (await metricValue()) >= 1, { timeoutMs: 10_000 });
    await waitFor("the fast subscriber to receive every event", () => fast.events().length >= appended, {
      timeoutMs: 20_000,
    });
    assert.equal(fast.closed(), null);
    slow.destroy();
    fast.close();
  });

  it("SSE logs stream tool output and resume after Last-Event-ID", async () => {
    const executionId = `x-${Date.now()}`;
    const chunk = (seq: number, text: string) =>
      newEvent(
        "tool_call.output",
        executionId,
        { execution_id: executionId, tool_call_id: "tc1", seq, stream: "stdout", text },
        { actor, correlation_id: "c" },
      );
    for (let i = 0; i < 3; i++) await gw.store.append([chunk(i, `line ${i}\n`)]);

    async function readEvents(headers: Record<string, string>, count: number) {
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/v1/executions/${executionId}/logs`, {
        headers: { authorization: `Bearer ${token}`, ...headers },
        signal: controller.signal,
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = "";
      const events: { id: number; data: { text: string } }[] = [];
      while (events.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        const blocks = text.split("\n\n");
        text = blocks.pop() ?? "";
        for (const block of blocks) {
          const id = /^id: (\d+)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id && data) events.push({ id: Number(id), data: JSON.parse(data) as { text: string } });
        }
      }
      controller.abort();
      return events;
    }

    const all = await readEvents({}, 3);
    assert.deepEqual(
      all.map((e) => e.data.text),
      ["line 0\n", "line 1\n", "line 2\n"],
    );
    await gw.store.append([chunk(3, "line 3\n")]);
    const resumed = await readEvents({ "last-event-id": String(all[1]?.id) }, 2);
    assert.deepEqual(
      resumed.map((e) => e.data.text),
      ["line 2\n", "line 3\n"],
    );
    const unauth = await fetch(`${gw.url}/v1/executions/${executionId}/logs`);
    assert.equal(unauth.status, 401);
  });
});

describe("shutdown", () => {
  it("stop() ends open SSE streams and WebSockets instead of waiting for them", async () => {
    const gw = await startTestGateway({ projector: false });
    const token = await gw.token("vic", ["viewer"]);
    const sse = await fetch(`${gw.url}/v1/executions/x-open/logs`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(sse.status, 200);
    const ws = await openClient(`${gw.url.replace("http", "ws")}/v1/ws?access_token=${token}`);
    await ws.waitFor("ready");
    const t0 = performance.now();
    await gw.stop();
    assert.ok(performance.now() - t0 < 3_000, `stop took ${performance.now() - t0} ms`);
    await waitFor("the WebSocket closed", () => ws.closed() !== null);
    await (sse.body as ReadableStream).cancel().catch(() => undefined);
  });
});

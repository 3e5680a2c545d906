/**
 * The gateway benchmark's WebSocket subscribers, in a process of their own (started with `fork`
 * by `scripts/bench/gateway.ts`), so that what the benchmark measures is the server's fan-out and
 * not the load generator's event loop: with 2,000 subscribers in the benchmark's own process, a
 * WHATWG `WebSocket` per subscriber cost about as much CPU per message as the gateway's send.
 *
 * A minimal RFC 6455 client over `net` (unmasked text frames from the server, masked frames to it):
 * each incoming chunk is stamped once with the monotonic clock (`process.hrtime`, the same clock in
 * every process of the machine) and kept; the latencies are worked out after the run.
 *
 * Messages from the parent: `{ type: "connect", port, path, count, topics, expected }` →
 * `{ type: "ready" }`, then `{ type: "done" }` once every expected message is in;
 * `{ type: "report" }` → `{ type: "report", received, latencies, cpuMs }`; `{ type: "close" }`.
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

interface ConnectRequest {
  readonly type: "connect";
  readonly port: number;
  readonly path: string;
  readonly count: number;
  readonly topics: readonly string[];
  /** Messages expected in all: `{ type: "done" }` is sent once that many have arrived. */
  readonly expected: number;
}

const monotonicMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;

/** One masked text frame, as a client must send it. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const long = payload.length >= 126;
  const header = Buffer.alloc(long ? 8 : 6);
  header[0] = 0x81;
  header[1] = 0x80 | (long ? 126 : payload.length);
  if (long) header.writeUInt16BE(payload.length, 2);
  const mask = randomBytes(4);
  mask.copy(header, long ? 4 : 2);
  for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([header, payload]);
}

const received: { at: number; payload: Buffer }[] = [];
let expected = Number.POSITIVE_INFINITY;
let cpuAtReady: NodeJS.CpuUsage | null = null;

/** Opens one subscriber and resolves once the server confirmed its subscription. */
function subscriber(request: ConnectRequest): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(request.port, "127.0.0.1");
    socket.setNoDelay(true);
    let handshake = "";
    let upgraded = false;
    let pending: Buffer | null = null;
    let subscribed = false;
    const onFrame = (opcode: number, payload: Buffer, at: number) => {
      if (opcode !== 1) {
        if (opcode === 8) reject(new Error(`closed by the server: ${payload.subarray(2).toString()}`));
        return;
      }
      if (subscribed) {
        received.push({ at, payload });
        if (received.length === expected) process.send?.({ type: "done" });
        return;
      }
      const text = payload.toString();
      if (text.includes('"type":"ready"')) {
        socket.write(clientFrame(JSON.stringify({ type: "subscribe", topics: request.topics })));
      } else if (text.includes('"type":"subscribed"')) {
        subscribed = true;
        resolve(socket);
      } else if (text.includes('"type":"error"')) {
        reject(new Error(`refused: ${text}`));
      }
    };
    const onFrames = (chunk: Buffer) => {
      const at = monotonicMs();
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      while (buf.length >= 2) {
        let length = (buf[1] ?? 0) & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buf.length < 4) break;
          length = buf.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buf.length < 10) break;
          length = Number(buf.readBigUInt64BE(2));
          offset = 10;
        }
        if (buf.length < offset + length) break;
        onFrame((buf[0] ?? 0) & 0x0f, buf.subarray(offset, offset + length), at);
        buf = buf.subarray(offset + length);
      }
      pending = buf.length > 0 ? buf : null;
    };
    socket.on("data", (chunk: Buffer) => {
      if (!upgraded) {
        const text = chunk.toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        handshake += end === -1 ? text : text.slice(0, end + 4);
        if (end === -1) return;
        if (!handshake.startsWith("HTTP/1.1 101")) {
          reject(new Error(`handshake refused: ${handshake.split("\r\n")[0]}`));
          socket.destroy();
          return;
        }
        upgraded = true;
        if (end + 4 < chunk.length) onFrames(chunk.subarray(end + 4));
        return;
      }
      onFrames(chunk);
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error("connection closed before the subscription was confirmed")));
    socket.write(
      `GET ${request.path} HTTP/1.1\r\nHost: 127.0.0.1:${request.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

const sockets: Socket[] = [];

process.on("message", (message: ConnectRequest | { type: "report" } | { type: "close" }) => {
  void (async () => {
    if (message.type === "connect") {
      expected = message.expected;
      for (let i = 0; i < message.count; i += 100) {
        const batch = Math.min(100, message.count - i);
        sockets.push(...(await Promise.all(Array.from({ length: batch }, () => subscriber(message)))));
      }
      cpuAtReady = process.cpuUsage();
      process.send?.({ type: "ready", subscribers: sockets.length });
    } else if (message.type === "report") {
      const cpu = process.cpuUsage(cpuAtReady ?? undefined);
      const latencies: number[] = [];
      for (const { at, payload } of received) {
        const sentAt = Number(/"intent":"fanout ([\d.]+)"/.exec(payload.toString("latin1"))?.[1]);
        if (Number.isFinite(sentAt)) latencies.push(at - sentAt);
      }
      process.send?.({ type: "report", received: received.length, latencies, cpuMs: (cpu.user + cpu.system) / 1000 });
    } else {
      for (const socket of sockets) socket.destroy();
      process.disconnect?.();
    }
  })().catch((e: unknown) => {
    process.send?.({ type: "error", message: (e as Error).message });
  });
});

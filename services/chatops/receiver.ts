/**
 * Slack's HTTP entry: Bolt's `HTTPReceiver` on ChatOps's own port
 * (`chatops.slack.host:port`, request URL `/slack/events`), behind one check
 * Bolt does not make. Bolt verifies `X-Slack-Signature` (HMAC-SHA256 of
 * `v0:<timestamp>:<raw body>` with the signing secret) and refuses a
 * timestamp over five minutes old, both with 401; in front of it, a request
 * signed in the future beyond that window, or one whose signature was already
 * taken (a replay: the same signed bytes again), is refused with 401 too.
 * Handlers acknowledge at once (`processBeforeResponse: false`), well within
 * Slack's three seconds, and do their work after.
 *
 * Why its own port and not mounted under the gateway: Slack's form-encoded,
 * raw-body-signed requests and Bolt's ack protocol would otherwise enter the
 * gateway's JSON-only transport and hot path, and the gateway would have to
 * host another service's code; on its own port ChatOps stays a separate
 * process that reaches the gateway through its public API, like any client.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type HTTPReceiver, isValidSlackRequest } from "@slack/bolt";
import type { Logger } from "../../lib/log/index.ts";

/** Slack's own window: a request signed more than five minutes from now is not taken. */
const WINDOW_SECONDS = 300;
const BODY_LIMIT_BYTES = 1024 * 1024;

export interface SlackListener {
  readonly url: string;
  close(): Promise<void>;
}

export async function listenForSlack(deps: {
  readonly receiver: HTTPReceiver;
  readonly signingSecret: string;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly now?: (() => number) | undefined;
}): Promise<SlackListener> {
  const now = deps.now ?? Date.now;
  /** Signatures taken, until they are stale anyway. */
  const taken = new Map<string, number>();
  const refuse = (res: import("node:http").ServerResponse, why: string, req: IncomingMessage) => {
    deps.logger.warn({ remote: req.socket.remoteAddress, why }, "Slack request refused");
    res.writeHead(401).end();
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > BODY_LIMIT_BYTES) return void res.writeHead(413).end();
        chunks.push(chunk as Buffer);
      }
      const raw = Buffer.concat(chunks);
      // Bolt reads a body already read from here rather than from the stream.
      (req as IncomingMessage & { rawBody?: Buffer }).rawBody = raw;
      const signature = req.headers["x-slack-signature"];
      const timestamp = Number(req.headers["x-slack-request-timestamp"]);
      if (typeof signature === "string" && Number.isFinite(timestamp)) {
        const nowSec = Math.floor(now() / 1000);
        const valid = isValidSlackRequest({
          signingSecret: deps.signingSecret,
          body: raw.toString("utf8"),
          headers: { "x-slack-signature": signature, "x-slack-request-timestamp": timestamp },
          nowMilliseconds: now(),
        });
        if (valid) {
          if (timestamp > nowSec + WINDOW_SECONDS) return refuse(res, "signed in the future", req);
          for (const [s, until] of taken) if (until <= nowSec) taken.delete(s);
          if (taken.has(signature)) return refuse(res, "a replay of a request already taken", req);
          taken.set(signature, timestamp + WINDOW_SECONDS + 60);
        }
      }
      // Forged and stale requests are Bolt's to refuse (401), as it verifies every request itself.
      deps.receiver.requestListener(req, res);
    })().catch((error: unknown) => {
      deps.logger.error({ err: error }, "handling a Slack request failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(deps.port, deps.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${deps.host}:${port}/slack/events`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/**
 * For tests: a plain-HTTP proxy on 127.0.0.1 in front of the local API server (which it reaches
 * with the kubeconfig's credentials), so a test can count list and watch calls, drop the open
 * watches, answer the next watch of a path with 410 Gone, or play an unreachable API server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

export interface ProxiedCall {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly watch: boolean;
}

export interface KubeProxy {
  readonly url: string;
  readonly calls: ProxiedCall[];
  /** BOOKMARK events that passed through, with their collection path and resourceVersion. */
  readonly bookmarks: { readonly path: string; readonly resourceVersion: string }[];
  /** A kubeconfig whose cluster is this proxy (no credentials: the proxy adds them). */
  kubeconfig(): KubeConfig;
  /** List calls (GET without `watch`), optionally of one collection path. */
  lists(path?: string): number;
  watches(path?: string): ProxiedCall[];
  /** Ends every open watch response abruptly; returns how many. */
  dropWatches(): number;
  /** The next watch of `path` gets a watch ERROR event with 410 Gone (as for an expired resourceVersion). */
  goneNextWatch(path: string): void;
  /** While down, every connection is closed at once (an unreachable API server). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startKubeProxy(upstreamKubeconfig: string): Promise<KubeProxy> {
  const upstream = new KubeConfig();
  upstream.loadFromFile(upstreamKubeconfig);
  const cluster = upstream.getCurrentCluster();
  if (!cluster) throw new Error(`${upstreamKubeconfig} has no current cluster`);
  const base: RequestOptions = {};
  await upstream.applyToHTTPSOptions(base);
  const calls: ProxiedCall[] = [];
  const bookmarks: { path: string; resourceVersion: string }[] = [];
  const openWatches = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const gone = new Set<string>();
  let down = false;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    const watch = url.searchParams.get("watch") === "true";
    calls.push({ method: req.method ?? "GET", path: url.pathname, query: url.searchParams, watch });
    if (watch && gone.delete(url.pathname)) {
      res.writeHead(200, { "content-type": "application/json" });
      const status = { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410 };
      res.end(`${JSON.stringify({ type: "ERROR", object: { ...status, message: "too old resource version" } })}\n`);
      return;
    }
    const target = new URL(cluster.server + (req.url ?? "/"));
    const up = httpsRequest(
      target,
      { ...base, method: req.method, headers: { ...req.headers, host: target.host } },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (watch) {
          // As the API server does: the watch's headers go out at once, before any event.
          res.flushHeaders();
          openWatches.add(res);
          res.on("close", () => openWatches.delete(res));
          let pending = "";
          upRes.on("data", (chunk: Buffer) => {
            const lines = (pending + chunk.toString("utf8")).split("\n");
            pending = lines.pop() ?? "";
            for (const line of lines) {
              if (!line.includes('"BOOKMARK"')) continue;
              const rv = (JSON.parse(line) as { object?: { metadata?: { resourceVersion?: string } } }).object?.metadata
                ?.resourceVersion;
              if (rv) bookmarks.push({ path: url.pathname, resourceVersion: rv });
            }
          });
        }
        upRes.pipe(res);
        res.on("close", () => upRes.destroy());
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connection", (socket: Socket) => {
    if (down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    calls,
    bookmarks,
    kubeconfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "proxy", server: url, skipTLSVerify: true }],
        users: [{ name: "proxy" }],
        contexts: [{ name: "proxy", cluster: "proxy", user: "proxy" }],
        currentContext: "proxy",
      });
      return kc;
    },
    lists: (path) =>
      calls.filter((c) => c.method === "GET" && !c.watch && (path === undefined || c.path === path)).length,
    watches: (path) => calls.filter((c) => c.watch && (path === undefined || c.path === path)),
    dropWatches() {
      const n = openWatches.size;
      for (const res of openWatches) res.socket?.destroy();
      openWatches.clear();
      return n;
    },
    goneNextWatch: (path) => gone.add(path),
    setDown(value) {
      down = value;
      if (value) for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

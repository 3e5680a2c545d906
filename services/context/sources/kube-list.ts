/**
 * The list half of list-then-watch, and the watch with bookmarks, for `@kubernetes/client-node`'s
 * `ListWatch`. Lists are read in pages as plain JSON (the same shape the watch delivers, so one
 * parser serves both); the watch asks for bookmarks and a server-side timeout, so the server ends
 * each watch cleanly with a bookmark carrying the latest resourceVersion and `ListWatch` resumes
 * from it without listing again. Both count their calls.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { type KubeConfig, type KubernetesListObject, type KubernetesObject, Watch } from "@kubernetes/client-node";
import type { KubeObject } from "./facts.ts";

/** An API server answer other than 2xx: its status code (410 Gone restarts the list) and message. */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

/** GET a path of the current cluster as JSON, with the kubeconfig's credentials; `timeoutMs` bounds the whole call. */
export async function getJson(kc: KubeConfig, path: string, timeoutMs: number): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  const url = new URL(cluster.server + path);
  const opts: RequestOptions = { method: "GET", headers: { accept: "application/json" } };
  await kc.applyToHTTPSOptions(opts);
  const send = url.protocol === "http:" ? httpRequest : httpsRequest;
  if (url.protocol === "http:") delete opts.agent;
  return await new Promise((resolve, reject) => {
    const req = send(url, { ...opts, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 0;
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        if (status >= 200 && status < 300 && body !== undefined) return resolve(body);
        const message =
          (body as { message?: string } | undefined)?.message ?? (text.slice(0, 200) || res.statusMessage);
        const said = String(message).trim();
        reject(
          new KubeApiError(
            status,
            `GET ${url.pathname}: ${said.startsWith(String(status)) ? said : `${status} ${said}`}`,
          ),
        );
      });
    });
    req.on("error", (e: Error) =>
      reject(e.name === "AbortError" ? new Error(`GET ${url.pathname}: no answer within ${timeoutMs} ms`) : e),
    );
    req.end();
  });
}

export interface ListOptions {
  readonly labelSelector?: string | undefined;
  readonly pageSize: number;
  readonly timeoutMs: number;
  /** Called once per list (not per page), before it starts. */
  readonly onList?: () => void;
}

/** A full list in pages (`limit`/`continue`), as `ListWatch` wants it: items and the list's resourceVersion. */
export function listFunction(
  kc: KubeConfig,
  path: string,
  opts: ListOptions,
): () => Promise<KubernetesListObject<KubernetesObject>> {
  return async () => {
    opts.onList?.();
    const items: KubeObject[] = [];
    let resourceVersion = "";
    let token: string | undefined;
    do {
      const q = new URLSearchParams({ limit: String(opts.pageSize) });
      if (opts.labelSelector) q.set("labelSelector", opts.labelSelector);
      if (token) q.set("continue", token);
      const page = (await getJson(kc, `${path}?${q}`, opts.timeoutMs)) as {
        items?: KubeObject[];
        metadata?: { resourceVersion?: string; continue?: string };
      };
      if (!Array.isArray(page.items)) throw new KubeApiError(0, `GET ${path}: the answer is not a list`);
      items.push(...page.items);
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      token = page.metadata?.continue || undefined;
    } while (token);
    return {
      apiVersion: "v1",
      kind: "List",
      metadata: { resourceVersion },
      items,
    } as KubernetesListObject<KubernetesObject>;
  };
}

export interface WatchEvents {
  /** A watch request is about to be sent, from `resourceVersion` (empty: from a fresh list). */
  onWatch(resourceVersion: string): void;
  /** Any event came in (a bookmark too): the connection is alive. */
  onEvent(type: string): void;
}

/** `Watch` with `allowWatchBookmarks` and a server-side timeout shorter than the client's 30 s idle limit. */
export class BookmarkWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly timeoutSeconds: number,
    private readonly events: WatchEvents,
  ) {
    super(kc);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    this.events.onWatch(String(queryParams.resourceVersion ?? ""));
    let failed = false;
    const controller = await super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: this.timeoutSeconds },
      (phase, obj, raw) => {
        this.events.onEvent(phase);
        callback(phase, obj, raw);
      },
      (err) => {
        if (err) failed = true;
        // A watch the server ended on its timeout is a healthy one: it resumes from its resourceVersion.
        else this.events.onEvent("END");
        done(err);
      },
    );
    // The server accepted the watch (200): the source is reachable, even before an event comes.
    if (!failed) this.events.onEvent("CONNECTED");
    return controller;
  }
}

/**
 * The operator's console on the gateway's own origin: the static files `npm run build:console`
 * writes to `console/dist/` (read once at start, compressed on first request), the sign-in
 * settings the console reads at `/auth-config.json`, and the development issuer mounted at its
 * issuer path when `gateway.auth.mode` is `dev`.
 *
 * Hashed assets (`/assets/…`) are cached for a year as immutable; `index.html` and other root
 * files are revalidated (`no-cache`, ETag). Every console page carries a strict
 * Content-Security-Policy: only this origin's scripts, styles, images and connections (the
 * issuer's origin too, for the token endpoint), no framing, no `<base>`, forms to this origin.
 * Any other GET outside the API falls back to `index.html`, so that a shared console URL opens.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { brotliCompress, gzip, constants as zlibConstants } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { API_RESOURCE, CONSOLE_CLIENT_ID, CONSOLE_REDIRECT_PATH, CONSOLE_SCOPE } from "../../lib/auth/index.ts";
import type { GatewayConfig } from "../../lib/config/index.ts";

/** What the console's sign-in needs to know, served as `/auth-config.json` (see docs/architecture.md). */
export interface ConsoleAuthConfig {
  readonly issuer: string;
  readonly client_id: string;
  readonly scope: string;
  readonly resource: string;
  /** Path of the redirect URI on this origin. */
  readonly redirect_path: string;
}

/** The console's sign-in against `gateway.auth.issuer`: the dev issuer's client, or one registered alike elsewhere. */
export function consoleAuthConfig(auth: Pick<GatewayConfig["auth"], "issuer">): ConsoleAuthConfig {
  return {
    issuer: auth.issuer,
    client_id: CONSOLE_CLIENT_ID,
    scope: CONSOLE_SCOPE,
    resource: API_RESOURCE,
    redirect_path: CONSOLE_REDIRECT_PATH,
  };
}

export interface ConsoleDeps {
  /** The built console (`console/dist`); `null` or a folder without `index.html` serves a placeholder. */
  readonly assetsDir: string | null;
  readonly auth: ConsoleAuthConfig;
  /** The development issuer's handler, mounted at `path` (its issuer URL's path), or none. */
  readonly issuer?: { readonly path: string; handle(req: IncomingMessage, res: ServerResponse): void } | null;
}

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly immutable: boolean;
  /** Compressed bodies, made on first request. */
  readonly encoded: Map<"br" | "gzip", Promise<Buffer>>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};
const COMPRESSIBLE = /^(text\/|application\/(json|manifest\+json)|image\/svg)/;
/** Paths that belong to the API or the operations endpoints: never the console's fallback. */
const NOT_CONSOLE = /^\/(v1(\/|$)|healthz$|readyz$|metrics$)/;
const IMMUTABLE = "public, max-age=31536000, immutable";
const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

const PLACEHOLDER = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Wheelhouse</title></head>
<body>
<main>
<h1>Wheelhouse</h1>
<p>The console has not been built yet. Run <code>npm run build:console</code> (or <code>npm run setup</code>), then reload.</p>
<p>The API is served here as well: <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>
</main>
</body>
</html>
`;

function asset(body: Buffer, type: string, immutable: boolean): Asset {
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  return { body, type, etag, immutable, encoded: new Map() };
}

/** Every file under `dir` by its URL path; hashed assets are those under `/assets/`. */
export function loadConsoleAssets(dir: string | null): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (dir && existsSync(join(dir, "index.html"))) {
    const walk = (folder: string) => {
      for (const name of readdirSync(folder)) {
        // Dotfiles (setup's build stamp) are not the console's.
        if (name.startsWith(".")) continue;
        const file = join(folder, name);
        if (statSync(file).isDirectory()) {
          walk(file);
          continue;
        }
        const path = `/${relative(dir, file).split(sep).join("/")}`;
        const type = TYPES[extname(name).toLowerCase()] ?? "application/octet-stream";
        assets.set(path, asset(readFileSync(file), type, path.startsWith("/assets/")));
      }
    };
    walk(dir);
  }
  if (!assets.has("/index.html"))
    assets.set("/index.html", asset(Buffer.from(PLACEHOLDER), TYPES[".html"] ?? "", false));
  return assets;
}

/**
 * The console's Content-Security-Policy. `'self'` covers this origin's WebSocket in CSP 3; the
 * request's own `ws:`/`wss:` origin is named as well for browsers that read it the older way.
 */
export function contentSecurityPolicy(host: string | undefined, extraConnect: readonly string[]): string {
  const sameHost =
    host && /^[\w.-]+(:\d+)?$|^\[[\d:a-f.]+\](:\d+)?$/i.test(host) ? [`ws://${host}`, `wss://${host}`] : [];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src ${["'self'", ...sameHost, ...extraConnect].join(" ")}`,
    "img-src 'self' data:",
    "font-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");
}

function acceptedEncoding(request: FastifyRequest): "br" | "gzip" | null {
  const accepted = String(request.headers["accept-encoding"] ?? "");
  if (/\bbr\b/.test(accepted)) return "br";
  if (/\bgzip\b/.test(accepted)) return "gzip";
  return null;
}

function encode(file: Asset, encoding: "br" | "gzip"): Promise<Buffer> {
  let body = file.encoded.get(encoding);
  if (!body) {
    body =
      encoding === "br"
        ? brotli(file.body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } })
        : gzipAsync(file.body, { level: 9 });
    file.encoded.set(encoding, body);
  }
  return body;
}

/** Registers the console's routes (and the development issuer's) on the transport's Fastify app. */
export function registerConsole(app: FastifyInstance, deps: ConsoleDeps): void {
  const assets = loadConsoleAssets(deps.assetsDir);
  const issuerOrigin = URL.parse(deps.auth.issuer)?.origin;
  const extraConnect = issuerOrigin ? [issuerOrigin] : [];

  async function send(request: FastifyRequest, reply: FastifyReply, file: Asset) {
    void reply
      .header("content-type", file.type)
      .header("cache-control", file.immutable ? IMMUTABLE : "no-cache")
      .header("etag", file.etag)
      .header("vary", "accept-encoding");
    if (file.type.startsWith("text/html")) {
      void reply
        .header("content-security-policy", contentSecurityPolicy(request.headers.host, extraConnect))
        .header("referrer-policy", "no-referrer")
        .header("cross-origin-opener-policy", "same-origin");
    }
    if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
    const encoding = COMPRESSIBLE.test(file.type) && file.body.length > 1024 ? acceptedEncoding(request) : null;
    if (!encoding) return reply.send(file.body);
    return reply.header("content-encoding", encoding).send(await encode(file, encoding));
  }

  app.get("/auth-config.json", async (_request, reply) => reply.header("cache-control", "no-cache").send(deps.auth));

  const issuer = deps.issuer;
  if (issuer) {
    // The issuer (a Koa app) reads the raw request itself: taken over before Fastify parses a body.
    app.route({
      method: ["GET", "HEAD", "POST", "OPTIONS"],
      url: `${issuer.path}/*`,
      onRequest: (request, reply, done) => {
        reply.hijack();
        issuer.handle(request.raw, reply.raw);
        done();
      },
      handler: async () => undefined,
    });
  }

  app.get("/*", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    if (NOT_CONSOLE.test(path)) return reply.callNotFound();
    const file = assets.get(path === "/" ? "/index.html" : path);
    if (file) return send(request, reply, file);
    // A missing asset is a 404, not the page: a stale hashed file must not come back as HTML.
    if (path.startsWith("/assets/") || extname(path) !== "") return reply.callNotFound();
    return send(request, reply, assets.get("/index.html") as Asset);
  });
}

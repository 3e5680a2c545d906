/**
 * The local development issuer: a certified OpenID provider (`oidc-provider`) on the embedded
 * profile, mounted by the gateway at its issuer URL's path (`/dev-issuer`) when
 * `gateway.auth.mode` is `dev`. Never on in production.
 *
 * - Sign-in: authorization code with PKCE (S256) for the console, a public client whose redirect
 *   URI is `/callback` on the issuer's origin; the login page offers the demo identities
 *   (dev-login.ts). Refresh tokens rotate.
 * - Access tokens are JWTs for the one resource server, the API (`API_RESOURCE`), with the
 *   gateway's audience and its roles/groups claims, signed with the ES256 key kept under
 *   `.data/dev-issuer/` (so the gateway verifies them against the JWKS unchanged).
 * - `mint` issues the same kind of access token for `npm run token` directly with the provider's
 *   models and keys, for any subject and roles (no browser needed).
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK } from "jose";
import type { ClientMetadata, ResourceServerInstance } from "oidc-provider";
import type { Role } from "../../events/index.ts";
import { type GatewayConfig, parseConfig } from "../config/index.ts";
import { ValidationError } from "../errors/index.ts";
import { API_RESOURCE, API_SCOPE, CONSOLE_CLIENT_ID, CONSOLE_REDIRECT_PATH, TOKEN_CLIENT_ID } from "./dev-clients.ts";
import { handleInteraction } from "./dev-login.ts";
import { demoIdentity, errorPage, logoutPage, PAGE_CSP, signedOutPage } from "./dev-pages.ts";

export * from "./dev-clients.ts";
export { DEMO_IDENTITIES, type DemoIdentity } from "./dev-pages.ts";

export interface DevIssuer {
  readonly issuer: string;
  /** The issuer URL's path (`/dev-issuer`): the gateway hands every request under it to `handle`. */
  readonly path: string;
  /** The public signing keys, as served at `<issuer>/.well-known/jwks.json`. */
  jwks(): JSONWebKeySet;
  /** Serves the provider's endpoints and the login page (a Node request under `path`). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Issues an API access token whose roles claim holds the groups that map to `roles`. */
  mint(options: MintOptions): Promise<string>;
}

export interface MintOptions {
  readonly sub: string;
  readonly roles: readonly Role[];
  readonly audience: string;
  readonly rolesClaim: string;
  readonly roleMap: Readonly<Record<string, Role>>;
  readonly ttlSeconds?: number | undefined;
  readonly email?: string | undefined;
  /** Approver groups (`sre`, `break-glass`), put in `groupsClaim` (default: the roles claim). */
  readonly groups?: readonly string[] | undefined;
  readonly groupsClaim?: string | undefined;
}

/** How issued tokens are shaped: the gateway's `gateway.auth` settings. */
export type TokenShape = Pick<GatewayConfig["auth"], "audience" | "roles_claim" | "role_map" | "groups_claim">;

export interface DevIssuerOptions {
  /** Default: the configuration's defaults. */
  readonly auth?: TokenShape | undefined;
  /** Lifetime of a signed-in person's access token; default 600 s (the console refreshes before). */
  readonly accessTokenTtlSeconds?: number | undefined;
}

interface StoredKeys {
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

const ALG = "ES256";
const HOUR = 3600;

async function loadKeys(dir: string): Promise<StoredKeys> {
  const file = join(dir, "keys.json");
  try {
    return JSON.parse(readFileSync(file, "utf8")) as StoredKeys;
  } catch {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = `dev-${randomUUID().slice(0, 8)}`;
    const stored: StoredKeys = {
      kid,
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALG, use: "sig" },
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: "sig" },
    };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
    return stored;
  }
}

/** The roles and approver groups as the gateway reads them (lib/auth's `rolesFromClaims`, `groupsFromClaims`). */
export function tokenClaims(
  person: { roles: readonly Role[]; groups?: readonly string[] | undefined },
  shape: { rolesClaim: string; roleMap: Readonly<Record<string, Role>>; groupsClaim?: string | undefined },
): Record<string, unknown> {
  const roleGroups = person.roles.map((role) => {
    const group = Object.entries(shape.roleMap).find(([, r]) => r === role)?.[0];
    if (!group) {
      throw new ValidationError(`no group in gateway.auth.role_map maps to role ${role}`, {
        field: "roles",
        fix: `ask for roles the map names (${[...new Set(Object.values(shape.roleMap))].join(", ") || "none"}), or map a group to ${role} in gateway.auth.role_map`,
      });
    }
    return group;
  });
  const groupsClaim = shape.groupsClaim ?? shape.rolesClaim;
  const approverGroups = [...(person.groups ?? [])];
  if (groupsClaim === shape.rolesClaim) return { [shape.rolesClaim]: [...roleGroups, ...approverGroups] };
  return { [shape.rolesClaim]: roleGroups, [groupsClaim]: approverGroups };
}

function apiResourceServer(audience: string, ttlSeconds: number): ResourceServerInstance {
  return {
    scope: API_SCOPE,
    audience,
    accessTokenTTL: ttlSeconds,
    accessTokenFormat: "jwt",
    jwt: { sign: { alg: ALG } },
    get scopes() {
      return new Set([API_SCOPE]);
    },
    identifier: () => API_RESOURCE,
  };
}

/** The console's origins: the issuer's, and its loopback alias (127.0.0.1 ↔ localhost). */
function consoleOrigins(issuer: URL): string[] {
  const alias = { "127.0.0.1": "localhost", localhost: "127.0.0.1" }[issuer.hostname];
  const origins = [issuer.origin];
  if (alias) origins.push(`${issuer.protocol}//${alias}${issuer.port ? `:${issuer.port}` : ""}`);
  return origins;
}

/** Reads the key pair from `dir` (creating it, mode 0600, on first use) and builds the provider. */
export async function loadDevIssuer(dir: string, issuer: string, options: DevIssuerOptions = {}): Promise<DevIssuer> {
  // Loaded here, not with lib/auth: only the embedded profile's gateway and `npm run token` need it.
  const [{ default: Provider, errors }, { createMemoryAdapter }] = await Promise.all([
    import("oidc-provider"),
    import("oidc-provider/lib/adapters/memory_adapter.js"),
  ]);
  const stored = await loadKeys(dir);
  const auth = options.auth ?? parseConfig({}).gateway.auth;
  const shape = { rolesClaim: auth.roles_claim, roleMap: auth.role_map, groupsClaim: auth.groups_claim };
  const accessTtl = options.accessTokenTtlSeconds ?? 600;
  const issuerUrl = new URL(issuer);
  const path = issuerUrl.pathname.replace(/\/$/, "");
  const origins = consoleOrigins(issuerUrl);
  const consoleClient: ClientMetadata = {
    client_id: CONSOLE_CLIENT_ID,
    client_name: "the Wheelhouse console",
    application_type: "web",
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    redirect_uris: origins.map((o) => `${o}${CONSOLE_REDIRECT_PATH}`),
    post_logout_redirect_uris: origins.map((o) => `${o}/`),
  };
  const tokenClient: ClientMetadata = {
    client_id: TOKEN_CLIENT_ID,
    client_name: "npm run token",
    token_endpoint_auth_method: "none",
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  };

  const provider = new Provider(issuer, {
    adapter: createMemoryAdapter(),
    clients: [consoleClient, tokenClient],
    clientDefaults: { id_token_signed_response_alg: ALG },
    jwks: { keys: [stored.privateJwk] },
    // Cookie signing keys derived from the private key: stable across restarts, never stored twice.
    cookies: {
      keys: [createHash("sha256").update(`wheelhouse dev-issuer cookies ${stored.privateJwk.d}`).digest("hex")],
    },
    routes: { jwks: "/.well-known/jwks.json" },
    scopes: ["openid", "offline_access", "profile", "email"],
    // `groups` (roles' groups and approver groups, as the access token has them) lets the console show who may do what.
    claims: { openid: ["sub"], profile: ["name", "preferred_username", "groups"], email: ["email"] },
    async findAccount(_ctx, id) {
      const person = demoIdentity(id);
      if (!person) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          name: person.name,
          preferred_username: id,
          email: person.email,
          groups: tokenClaims(person, { ...shape, groupsClaim: shape.rolesClaim })[shape.rolesClaim],
        }),
      };
    },
    // A signed-in person's token carries their roles and groups; a minted one what `mint` put in it.
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== "AccessToken") return undefined;
      if (token.extra) return token.extra;
      const person = demoIdentity(token.accountId);
      if (!person) return undefined;
      return { ...tokenClaims(person, shape), name: person.name, email: person.email };
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, indicator) {
          if (indicator !== API_RESOURCE) {
            throw new errors.InvalidTarget(`the only resource here is ${API_RESOURCE} (the Wheelhouse API)`);
          }
          return apiResourceServer(auth.audience, accessTtl);
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          ctx.set("content-security-policy", PAGE_CSP);
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource(ctx) {
          ctx.set("content-security-policy", PAGE_CSP);
          ctx.body = signedOutPage();
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `${path}/interaction/${interaction.uid}` },
    // The console is a public client: its refresh tokens rotate on every use (the provider's default for them).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    pkce: { required: () => true },
    ttl: {
      AccessToken: accessTtl,
      AuthorizationCode: 60,
      IdToken: HOUR,
      Interaction: 600,
      RefreshToken: 8 * HOUR,
      Session: 8 * HOUR,
      Grant: 8 * HOUR,
    },
    clientBasedCORS: (_ctx, origin) => origins.includes(origin),
    renderError(ctx, out) {
      ctx.type = "html";
      ctx.set("content-security-policy", PAGE_CSP);
      ctx.body = errorPage(out);
    },
  });
  provider.use(async (ctx, next) => {
    ctx.set("x-content-type-options", "nosniff");
    await next();
  });
  const callback = provider.callback();
  const tokenClientModel = await provider.Client.find(TOKEN_CLIENT_ID);
  if (!tokenClientModel) throw new Error(`the dev issuer's ${TOKEN_CLIENT_ID} client did not register`);

  return {
    issuer,
    path,
    jwks: () => ({ keys: [stored.publicJwk] }),
    handle(req, res) {
      const url = req.url ?? "/";
      const rest = url.slice(path.length) || "/";
      if (rest.startsWith("/interaction/")) {
        void handleInteraction(provider, { path, req, res });
        return;
      }
      // Mounted as Express would: the provider works out its mount path from originalUrl and url.
      Object.assign(req, { originalUrl: url });
      req.url = rest;
      void callback(req, res);
    },
    async mint(mintOptions) {
      const person = { roles: mintOptions.roles, groups: mintOptions.groups };
      const extra = {
        ...tokenClaims(person, {
          rolesClaim: mintOptions.rolesClaim,
          roleMap: mintOptions.roleMap,
          groupsClaim: mintOptions.groupsClaim,
        }),
        ...(mintOptions.email ? { email: mintOptions.email } : {}),
      };
      const ttl = mintOptions.ttlSeconds ?? HOUR;
      const token = new provider.AccessToken({
        client: tokenClientModel,
        accountId: mintOptions.sub,
        resourceServer: apiResourceServer(mintOptions.audience, ttl),
        scope: API_SCOPE,
        expiresIn: ttl,
        gty: "mint",
        grantId: `mint-${randomUUID()}`,
        extra,
      });
      return token.save();
    },
  };
}

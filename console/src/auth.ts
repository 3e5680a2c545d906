/**
 * Sign-in: OpenID Connect authorization code flow with PKCE (oauth4webapi) against the issuer the
 * gateway names in `/auth-config.json`. Tokens live in memory only (a reload signs in again, quietly
 * when the issuer's session is still open); the access token is refreshed a minute before it
 * expires, and a session that cannot be refreshed ends at expiry. Only the PKCE verifier, state and
 * nonce of a sign-in under way cross the redirect, in sessionStorage.
 */
import * as oauth from "oauth4webapi";

/** What the gateway serves at `/auth-config.json`. */
export interface AuthConfig {
  readonly issuer: string;
  readonly client_id: string;
  readonly scope: string;
  readonly resource?: string;
  readonly redirect_path: string;
}

export interface User {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
}

interface Session {
  readonly accessToken: string;
  readonly expiresAt: number;
  readonly refreshToken: string | null;
  readonly idToken: string | null;
  readonly user: User;
}

interface PendingSignIn {
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
  readonly returnTo: string;
}

const PENDING = "wheelhouse.signin";
/** Set while signed in, so that a reload signs in again without a click. */
const RESUME = "wheelhouse.resume";
const REFRESH_MARGIN_MS = 60_000;

export async function loadAuthConfig(): Promise<AuthConfig> {
  const response = await fetch("/auth-config.json", { headers: { accept: "application/json" } });
  if (!response.ok)
    throw new Error(
      `/auth-config.json answered ${response.status}: the gateway serves the console's sign-in settings there`,
    );
  return (await response.json()) as AuthConfig;
}

function userOf(claims: Record<string, unknown>): User {
  const id = String(claims.sub ?? "");
  const groups = Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === "string") : [];
  const name = typeof claims.name === "string" ? claims.name : typeof claims.email === "string" ? claims.email : id;
  return { id, name, groups };
}

export type Auth = ReturnType<typeof createAuth>;

export function createAuth(config: AuthConfig) {
  const issuer = new URL(config.issuer);
  const client: oauth.Client = { client_id: config.client_id };
  const clientAuth = oauth.None();
  const redirectUri = new URL(config.redirect_path, window.location.origin).href;
  // The development issuer runs on plain HTTP on this machine; any other issuer must be HTTPS.
  const options = issuer.protocol === "http:" ? { [oauth.allowInsecureRequests]: true } : {};
  const resource = config.resource ? { resource: config.resource } : undefined;
  const listeners = new Set<() => void>();
  let server: Promise<oauth.AuthorizationServer> | null = null;
  let session: Session | null = null;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let refreshing: Promise<void> | null = null;

  const notify = () => {
    for (const listener of listeners) listener();
  };

  function authorizationServer(): Promise<oauth.AuthorizationServer> {
    server ??= oauth
      .discoveryRequest(issuer, { algorithm: "oidc", ...options })
      .then((response) => oauth.processDiscoveryResponse(issuer, response))
      .catch((error: unknown) => {
        server = null;
        throw error;
      });
    return server;
  }

  function accept(result: oauth.TokenEndpointResponse, previous: Session | null) {
    const claims = oauth.getValidatedIdTokenClaims(result);
    const user = claims ? userOf(claims as Record<string, unknown>) : previous?.user;
    if (!user) throw new Error("the issuer sent no ID token: ask for the openid scope");
    const lifetime = (result.expires_in ?? 300) * 1000;
    session = {
      accessToken: result.access_token,
      expiresAt: Date.now() + lifetime,
      refreshToken: result.refresh_token ?? previous?.refreshToken ?? null,
      idToken: result.id_token ?? previous?.idToken ?? null,
      user,
    };
    sessionStorage.setItem(RESUME, "1");
    clearTimeout(refreshTimer);
    // A minute ahead, or at 80% of a lifetime shorter than five minutes.
    const ahead = Math.min(REFRESH_MARGIN_MS, lifetime * 0.2);
    refreshTimer = setTimeout(() => void refresh(), Math.max(1_000, lifetime - ahead));
    notify();
  }

  function expire() {
    clearTimeout(refreshTimer);
    session = null;
    notify();
  }

  async function refresh(): Promise<void> {
    const current = session;
    if (!current) return;
    if (!current.refreshToken) {
      // No refresh token: the session ends when the token does.
      refreshTimer = setTimeout(expire, Math.max(0, current.expiresAt - Date.now()));
      return;
    }
    refreshing ??= (async () => {
      try {
        const as = await authorizationServer();
        const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, current.refreshToken as string, {
          ...options,
          ...(resource ? { additionalParameters: resource } : {}),
        });
        accept(await oauth.processRefreshTokenResponse(as, client, response), current);
      } catch {
        if (Date.now() >= current.expiresAt) expire();
        else refreshTimer = setTimeout(() => void refresh(), Math.min(10_000, current.expiresAt - Date.now()));
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  return {
    get user(): User | null {
      return session?.user ?? null;
    },
    get expiresAt(): number | null {
      return session?.expiresAt ?? null;
    },
    /** Whether a reload should sign in again without asking (the user had signed in this tab). */
    get resumable(): boolean {
      return sessionStorage.getItem(RESUME) === "1";
    },
    onChange(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** A valid access token, refreshed first when it is about to expire; null when signed out. */
    async token(): Promise<string | null> {
      if (session && session.expiresAt - Date.now() < 5_000) await refresh();
      if (session && session.expiresAt <= Date.now()) expire();
      return session?.accessToken ?? null;
    },
    /** Sends the browser to the issuer's sign-in page; comes back to `redirect_path`. */
    async signIn(returnTo: string): Promise<void> {
      const as = await authorizationServer();
      if (!as.authorization_endpoint) throw new Error(`${config.issuer} names no authorization endpoint`);
      const pending: PendingSignIn = {
        verifier: oauth.generateRandomCodeVerifier(),
        state: oauth.generateRandomState(),
        nonce: oauth.generateRandomNonce(),
        returnTo,
      };
      sessionStorage.setItem(PENDING, JSON.stringify(pending));
      const url = new URL(as.authorization_endpoint);
      url.searchParams.set("client_id", config.client_id);
      url.searchParams.set("redirect_uri", redirectUri);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("scope", config.scope);
      url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(pending.verifier));
      url.searchParams.set("code_challenge_method", "S256");
      url.searchParams.set("state", pending.state);
      url.searchParams.set("nonce", pending.nonce);
      if (config.resource) url.searchParams.set("resource", config.resource);
      window.location.assign(url.href);
    },
    /** Whether this URL is the issuer's redirect back to the console. */
    isCallback(url: URL): boolean {
      return url.pathname === new URL(redirectUri).pathname;
    },
    /** Exchanges the code of the redirect for tokens; resolves to where the user was going. */
    async completeSignIn(url: URL): Promise<string> {
      const raw = sessionStorage.getItem(PENDING);
      sessionStorage.removeItem(PENDING);
      if (!raw) throw new Error("this sign-in was not started from this tab (or was already completed): sign in again");
      const pending = JSON.parse(raw) as PendingSignIn;
      const as = await authorizationServer();
      const params = oauth.validateAuthResponse(as, client, url, pending.state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        clientAuth,
        params,
        redirectUri,
        pending.verifier,
        { ...options, ...(resource ? { additionalParameters: resource } : {}) },
      );
      accept(
        await oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: pending.nonce,
          requireIdToken: true,
        }),
        null,
      );
      return pending.returnTo;
    },
    /** Forgets the tokens and ends the issuer's session (RP-initiated logout) when it offers that. */
    async signOut(): Promise<void> {
      const idToken = session?.idToken ?? null;
      clearTimeout(refreshTimer);
      session = null;
      sessionStorage.removeItem(RESUME);
      notify();
      const as = await authorizationServer().catch(() => null);
      if (as?.end_session_endpoint) {
        const url = new URL(as.end_session_endpoint);
        url.searchParams.set("client_id", config.client_id);
        url.searchParams.set("post_logout_redirect_uri", new URL("/", window.location.origin).href);
        if (idToken) url.searchParams.set("id_token_hint", idToken);
        window.location.assign(url.href);
      }
    },
  };
}

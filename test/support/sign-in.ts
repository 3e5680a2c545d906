/**
 * Signing in to the development issuer over plain HTTP, as a browser would: the authorization
 * request, the login form posted, the redirects followed by hand with the cookies they set, and
 * the code exchanged at the token endpoint with the PKCE verifier.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { API_RESOURCE, CONSOLE_CLIENT_ID, CONSOLE_SCOPE } from "../../lib/auth/index.ts";

export interface TokenResponse {
  readonly access_token: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
  readonly token_type: string;
  readonly expires_in: number;
  readonly scope?: string;
}

/** A browser's cookies, by name (the paths they were set for are ignored: the issuer checks its own). */
export class CookieJar {
  readonly #cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === "") this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

export const pkcePair = () => {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
};

/** Fetches without following redirects, sending and keeping the jar's cookies. */
export async function browse(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, {
    ...init,
    redirect: "manual",
    headers: { ...(init.headers as Record<string, string>), cookie: jar.header() },
  });
  jar.take(res);
  return res;
}

export interface CodeResult {
  readonly code: string;
  readonly verifier: string;
  readonly redirectUri: string;
  readonly jar: CookieJar;
  /** The login page's response (its headers: the page's CSP). */
  readonly loginPage: Response;
}

/** Follows the authorization request through the login page as `account` to the redirect with the code. */
export async function authorizationCode(
  gatewayUrl: string,
  account: string,
  options: { jar?: CookieJar; prompt?: string } = {},
): Promise<CodeResult> {
  const jar = options.jar ?? new CookieJar();
  const { verifier, challenge } = pkcePair();
  const redirectUri = `${gatewayUrl}/callback`;
  const state = randomBytes(8).toString("hex");
  const authorize = new URL(`${gatewayUrl}/dev-issuer/auth`);
  for (const [k, v] of Object.entries({
    client_id: CONSOLE_CLIENT_ID,
    response_type: "code",
    redirect_uri: redirectUri,
    scope: CONSOLE_SCOPE,
    resource: API_RESOURCE,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    ...(options.prompt ? { prompt: options.prompt } : {}),
  })) {
    authorize.searchParams.set(k, v);
  }
  let res = await browse(jar, authorize.href);
  assert.equal(res.status, 303, `the authorization request redirects to the login page: ${await res.text()}`);
  const loginUrl = new URL(res.headers.get("location") ?? "", gatewayUrl).href;
  const loginPage = await browse(jar, loginUrl);
  assert.equal(loginPage.status, 200, await loginPage.clone().text());
  const action = /<form method="post" action="([^"]+)"/.exec(await loginPage.clone().text())?.[1];
  assert.ok(action, "the login page has a form");
  res = await browse(jar, new URL(action, gatewayUrl).href, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ account }).toString(),
  });
  // Back through the authorization endpoint (resume) to the client's redirect URI.
  for (let hops = 0; hops < 5; hops++) {
    assert.ok([302, 303].includes(res.status), `a redirect, got ${res.status}: ${await res.text()}`);
    const location = new URL(res.headers.get("location") ?? "", gatewayUrl);
    if (location.href.startsWith(redirectUri)) {
      assert.equal(location.searchParams.get("state"), state);
      const code = location.searchParams.get("code");
      assert.ok(code, `the redirect carries a code: ${location.href}`);
      return { code, verifier, redirectUri, jar, loginPage };
    }
    res = await browse(jar, location.href);
  }
  throw new Error("the sign-in did not come back to the redirect URI");
}

/** POSTs a form to the issuer's token endpoint as the console. */
export async function tokenRequest(gatewayUrl: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${gatewayUrl}/dev-issuer/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, ...form }).toString(),
  });
}

/** Signs `account` in and exchanges the code: the console's tokens. */
export async function signIn(gatewayUrl: string, account: string): Promise<TokenResponse> {
  const { code, verifier, redirectUri } = await authorizationCode(gatewayUrl, account);
  const res = await tokenRequest(gatewayUrl, {
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as TokenResponse;
}

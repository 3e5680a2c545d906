/**
 * Codex: OpenAI models through a ChatGPT sign-in (an `openai-codex` OAuth
 * access token) instead of an API key. The wire is the Responses API over
 * SSE with the token as bearer; the token comes from configuration (an env
 * variable resolved by the service entry) or from an auth file in the shape
 * the Codex CLI writes (`~/.codex/auth.json`). An expired token (JWT `exp`)
 * is refreshed at the token URL with the refresh token, and the file is
 * updated so the Codex CLI keeps working (refresh tokens rotate).
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { decodeJwt } from "jose";
import { OpenAIClient } from "./openai.ts";
import { type LLMClient, ProviderError, type StructuredRequest, type StructuredResponse } from "./types.ts";

/** The Codex CLI's public OAuth client and token endpoint. */
export const CODEX_OAUTH_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
export const CODEX_TOKEN_URL = "https://auth.openai.com/oauth/token";
export const CODEX_API_BASE = "https://chatgpt.com/backend-api/codex";

/** Refresh this long before `exp`, so a token cannot expire in flight. */
const EXPIRY_MARGIN_MS = 60_000;

export interface CodexAuthOptions {
  /** An access token given directly (from an env variable); refreshed only if `refreshToken` is given too. */
  readonly accessToken?: string | undefined;
  readonly refreshToken?: string | undefined;
  /** Auth file (Codex CLI `auth.json`, or a file of named profiles). Config `auth_path`. */
  readonly authPath?: string | undefined;
  /** Profile inside the auth file (`profiles.<name>` or top-level `<name>`). Config `auth_profile`. */
  readonly authProfile?: string | undefined;
  readonly tokenUrl?: string | undefined;
  readonly clientId?: string | undefined;
  /** Write refreshed tokens back to the auth file (default true). */
  readonly persist?: boolean | undefined;
  readonly fetch?: typeof fetch | undefined;
  readonly now?: (() => number) | undefined;
}

interface Tokens {
  access_token: string;
  refresh_token?: string | undefined;
  id_token?: string | undefined;
  account_id?: string | undefined;
  /** Epoch ms, when the file says so and the token is not a JWT. */
  expires?: number | undefined;
}

const LOGIN_FIX =
  "sign in again with `codex login` (it rewrites the auth file), or set llm.auth_path/auth_profile to a profile with a valid refresh_token";

/** Where the bearer token comes from, refreshed when it is about to expire. */
export class CodexTokenSource {
  private tokens: Tokens | undefined;
  private inflight: Promise<Tokens> | undefined;
  private readonly options: CodexAuthOptions;

  constructor(options: CodexAuthOptions) {
    if (!options.accessToken && !options.authPath) {
      throw new ProviderError("codex", "auth", "no Codex access token configured", {
        fix: "set llm.api_key to env:NAME holding the access token, or llm.auth_path to the Codex CLI auth.json",
      });
    }
    this.options = options;
  }

  /** A valid access token, refreshing it first when it expires within a minute. */
  async token(): Promise<{ accessToken: string; accountId: string | undefined }> {
    let tokens = this.tokens ?? (await this.load());
    if (this.expiresAt(tokens) - this.now() < EXPIRY_MARGIN_MS) {
      this.inflight ??= this.refresh(tokens).finally(() => {
        this.inflight = undefined;
      });
      tokens = await this.inflight;
    }
    this.tokens = tokens;
    return { accessToken: tokens.access_token, accountId: tokens.account_id ?? accountIdFrom(tokens) };
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private expiresAt(tokens: Tokens): number {
    try {
      const exp = decodeJwt(tokens.access_token).exp;
      if (typeof exp === "number") return exp * 1000;
    } catch {
      // Not a JWT: fall back to the file's `expires`, or treat it as valid.
    }
    return tokens.expires ?? Number.POSITIVE_INFINITY;
  }

  private async load(): Promise<Tokens> {
    if (this.options.accessToken) {
      return { access_token: this.options.accessToken, refresh_token: this.options.refreshToken };
    }
    const path = this.options.authPath as string;
    const doc = await this.readDoc(path);
    const entry = this.pick(doc, path);
    const raw = (entry.tokens ?? entry) as Record<string, unknown>;
    const access = raw.access_token;
    if (typeof access !== "string" || access.length === 0) {
      throw new ProviderError("codex", "auth", `${path} has no tokens.access_token${this.profileText()}`, {
        fix: LOGIN_FIX,
      });
    }
    const expires = raw.expires ?? raw.expires_at ?? entry.expires;
    return {
      access_token: access,
      refresh_token: typeof raw.refresh_token === "string" ? raw.refresh_token : undefined,
      id_token: typeof raw.id_token === "string" ? raw.id_token : undefined,
      account_id: typeof raw.account_id === "string" ? raw.account_id : undefined,
      expires:
        typeof expires === "number"
          ? expires < 1e12
            ? expires * 1000
            : expires
          : typeof expires === "string"
            ? Date.parse(expires)
            : undefined,
    };
  }

  private async readDoc(path: string): Promise<Record<string, unknown>> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (cause) {
      throw new ProviderError("codex", "auth", `cannot read the Codex auth file ${path}: ${(cause as Error).message}`, {
        cause,
        fix: "run `codex login`, or point llm.auth_path at the auth.json it wrote",
      });
    }
    try {
      const doc = JSON.parse(text) as unknown;
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error("not a JSON object");
      return doc as Record<string, unknown>;
    } catch (cause) {
      throw new ProviderError("codex", "auth", `the Codex auth file ${path} is not valid JSON`, {
        cause,
        fix: LOGIN_FIX,
      });
    }
  }

  private pick(doc: Record<string, unknown>, path: string): Record<string, unknown> {
    const profile = this.options.authProfile;
    if (!profile) return doc;
    const profiles = (doc.profiles ?? doc) as Record<string, unknown>;
    const entry = profiles[profile];
    if (typeof entry !== "object" || entry === null) {
      throw new ProviderError("codex", "auth", `${path} has no profile "${profile}"`, {
        fix: `use one of: ${Object.keys(profiles).join(", ") || "(none)"}, or fix llm.auth_profile`,
      });
    }
    return entry as Record<string, unknown>;
  }

  private profileText(): string {
    return this.options.authProfile ? ` in profile "${this.options.authProfile}"` : "";
  }

  private async refresh(tokens: Tokens): Promise<Tokens> {
    if (!tokens.refresh_token) {
      throw new ProviderError("codex", "auth", `the Codex access token has expired and there is no refresh token`, {
        fix: LOGIN_FIX,
      });
    }
    const url = this.options.tokenUrl ?? CODEX_TOKEN_URL;
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({
          client_id: this.options.clientId ?? CODEX_OAUTH_CLIENT_ID,
          grant_type: "refresh_token",
          refresh_token: tokens.refresh_token,
          scope: "openid profile email",
        }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (cause) {
      throw new ProviderError("codex", "network", `token refresh at ${url} failed: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (!response.ok) {
      const detail = (await response.text().catch(() => "")).slice(0, 200);
      const failure = response.status >= 500 || response.status === 429 ? "server_error" : "auth";
      throw new ProviderError("codex", failure, `token refresh at ${url} was refused (${response.status}) ${detail}`, {
        httpStatus: response.status,
        fix: failure === "auth" ? LOGIN_FIX : undefined,
      });
    }
    const body = (await response.json()) as Record<string, unknown>;
    if (typeof body.access_token !== "string") {
      throw new ProviderError("codex", "auth", `token refresh at ${url} returned no access_token`, { fix: LOGIN_FIX });
    }
    const next: Tokens = {
      access_token: body.access_token,
      refresh_token: typeof body.refresh_token === "string" ? body.refresh_token : tokens.refresh_token,
      id_token: typeof body.id_token === "string" ? body.id_token : tokens.id_token,
      account_id: tokens.account_id,
      expires: typeof body.expires_in === "number" ? this.now() + body.expires_in * 1000 : undefined,
    };
    if (this.options.authPath && (this.options.persist ?? true)) await this.persist(next);
    return next;
  }

  /** Rewrites the file atomically, keeping everything else in it. */
  private async persist(tokens: Tokens): Promise<void> {
    const path = this.options.authPath as string;
    const doc = await this.readDoc(path);
    const entry = this.pick(doc, path);
    const target = (typeof entry.tokens === "object" && entry.tokens !== null ? entry.tokens : entry) as Record<
      string,
      unknown
    >;
    target.access_token = tokens.access_token;
    if (tokens.refresh_token) target.refresh_token = tokens.refresh_token;
    if (tokens.id_token) target.id_token = tokens.id_token;
    if ("expires" in target && tokens.expires !== undefined) target.expires = tokens.expires;
    if ("last_refresh" in entry || entry === doc) entry.last_refresh = new Date(this.now()).toISOString();
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  }
}

/** The ChatGPT account id: in the file, or in the id/access token's OpenAI auth claim. */
function accountIdFrom(tokens: Tokens): string | undefined {
  for (const jwt of [tokens.id_token, tokens.access_token]) {
    if (!jwt) continue;
    try {
      const claims = decodeJwt(jwt) as Record<string, unknown>;
      const auth = claims["https://api.openai.com/auth"] as Record<string, unknown> | undefined;
      const id = auth?.chatgpt_account_id;
      if (typeof id === "string") return id;
    } catch {
      // Not a JWT.
    }
  }
  return undefined;
}

export interface CodexClientOptions extends CodexAuthOptions {
  readonly model: string;
  /** Config `api_base`; the ChatGPT Codex backend by default. */
  readonly baseURL?: string | undefined;
  readonly timeoutMs?: number | undefined;
  readonly maxOutputTokens?: number | undefined;
  /** The Codex backend only streams; a compatible server may answer plain JSON. */
  readonly stream?: boolean | undefined;
}

export class CodexClient implements LLMClient {
  readonly provider = "codex" as const;
  readonly model: string;
  private readonly source: CodexTokenSource;
  private inner: { token: string; client: OpenAIClient } | undefined;
  private readonly options: CodexClientOptions;

  constructor(options: CodexClientOptions) {
    this.options = options;
    this.model = options.model;
    this.source = new CodexTokenSource(options);
  }

  async complete(request: StructuredRequest): Promise<StructuredResponse> {
    const { accessToken, accountId } = await this.source.token();
    if (this.inner?.token !== accessToken) {
      this.inner = {
        token: accessToken,
        client: new OpenAIClient({
          provider: "codex",
          apiKey: accessToken,
          model: this.model,
          baseURL: this.options.baseURL ?? CODEX_API_BASE,
          timeoutMs: this.options.timeoutMs,
          maxOutputTokens: this.options.maxOutputTokens,
          api: "responses",
          stream: this.options.stream ?? true,
          store: false,
          defaultHeaders: {
            originator: "wheelhouse",
            ...(accountId ? { "chatgpt-account-id": accountId } : {}),
          },
        }),
      };
    }
    return this.inner.client.complete(request);
  }
}

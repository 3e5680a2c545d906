/**
 * Authentication and authorization for the API: OIDC JWT verification with
 * `jose`, mapping of an identity provider's groups to Wheelhouse roles, and
 * the role each endpoint needs.
 *
 * Verification refuses what JWT libraries have historically let through:
 * `alg: none`, HMAC signed with a public key (only the configured asymmetric
 * algorithms are accepted, and remote key sets hold public keys only),
 * tokens from another issuer or for another audience, expired or
 * not-yet-valid tokens beyond a bounded clock skew, tokens issued in the future
 * (`iat` beyond the skew), and tokens older than `max_token_age_seconds` or
 * made to live longer than it (a ten-year `exp`).
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import type { Actor, ApprovalChannel, Role } from "../../events/index.ts";
import type { GatewayConfig } from "../config/index.ts";
import { ForbiddenError, UnauthenticatedError } from "../errors/index.ts";
import { createVerifiedTokens } from "./verified-tokens.ts";

export * from "./delegation.ts";
export * from "./dev-issuer.ts";

export type AuthConfig = GatewayConfig["auth"];

/** A verified caller: the actor recorded on every event it causes, plus the token's claims. */
export interface Principal {
  readonly actor: Actor & { kind: "user" };
  readonly claims: JWTPayload;
  /** Set when a trusted service acts for the person (delegation.ts): which service, and the channel it is. */
  readonly delegation?: { readonly service: string; readonly channel: ApprovalChannel } | undefined;
}

export interface Authenticator {
  /** Verifies a bearer token; throws `UnauthenticatedError` naming what is wrong. */
  verify(token: string): Promise<Principal>;
  /** Reads `Authorization: Bearer …` and verifies it. */
  authenticate(authorization: string | undefined): Promise<Principal>;
}

export interface AuthenticatorDeps {
  readonly config: AuthConfig;
  /** A fixed key set (the dev issuer's, a test's); otherwise the issuer's remote JWKS is used. */
  readonly jwks?: JSONWebKeySet | undefined;
  /** Clock for expiry checks (tests). */
  readonly now?: (() => Date) | undefined;
  /** Remote JWKS cache tuning; defaults: 10 minutes max age, 30 s cooldown between refetches on an unknown kid. */
  readonly cacheMaxAgeMs?: number | undefined;
  readonly cooldownMs?: number | undefined;
  /**
   * How long a verified token is taken as verified without checking its signature again (never
   * past its `exp` or maximum age); default 60 s, no longer than the remote key set is cached
   * anyway. 0 verifies every time.
   */
  readonly verifiedTtlMs?: number | undefined;
}

/** Roles that satisfy a requirement: admin can do anything; everyone with a role can read. */
const SATISFIES: Record<Role, readonly Role[]> = {
  viewer: ["viewer", "operator", "approver", "admin"],
  operator: ["operator", "admin"],
  approver: ["approver", "admin"],
  admin: ["admin"],
};

export function hasRole(actor: Pick<Actor, "roles">, required: Role): boolean {
  return actor.roles.some((r) => SATISFIES[required].includes(r));
}

/** Throws `ForbiddenError` unless the actor holds the role (or one that implies it). */
export function requireRole(actor: Actor, required: Role): void {
  if (!hasRole(actor, required)) {
    throw new ForbiddenError(`${actor.id} needs the ${required} role for this`, {
      fix: `ask an administrator for a group that maps to "${required}" (gateway.auth.role_map)`,
      extra: { required_role: required, roles: actor.roles },
    });
  }
}

/** Reads a claim by a dotted path (`realm_access.roles`). */
function claimAt(claims: JWTPayload, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let node: unknown = claims;
  for (const part of path.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Maps the roles claim through `role_map`; values without a mapping give no role. */
export function rolesFromClaims(claims: JWTPayload, config: Pick<AuthConfig, "roles_claim" | "role_map">): Role[] {
  const raw = claimAt(claims, config.roles_claim);
  const values = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(/[\s,]+/) : [];
  const roles = new Set<Role>();
  for (const value of values) {
    // Own keys only: a group named "constructor" or "__proto__" must not pick up Object.prototype's members.
    if (typeof value !== "string" || !Object.hasOwn(config.role_map, value)) continue;
    const role = config.role_map[value];
    if (role) roles.add(role);
  }
  return [...roles].sort();
}

const GROUP_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/**
 * The person's approver groups from `groups_claim`: through `group_map` when it has entries (values
 * it does not map give no group), else every value that is a plain lowercase name (a value that also
 * maps to a role, `sre` → operator, is both).
 */
export function groupsFromClaims(claims: JWTPayload, config: Pick<AuthConfig, "groups_claim" | "group_map">): string[] {
  const raw = claimAt(claims, config.groups_claim);
  const values = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(/[\s,]+/) : [];
  const mapped = Object.keys(config.group_map).length > 0;
  const groups = new Set<string>();
  for (const value of values) {
    if (typeof value !== "string") continue;
    const group = mapped ? (Object.hasOwn(config.group_map, value) ? config.group_map[value] : undefined) : value;
    if (group !== undefined && GROUP_NAME.test(group)) groups.add(group);
  }
  return [...groups].sort();
}

function describeJoseError(error: unknown, config: AuthConfig): UnauthenticatedError {
  const fix = "sign in again to get a fresh token from the configured issuer";
  // jose checks `iat` only against maxTokenAge: too old is a JWTExpired, in the future a claim failure.
  if (
    (error instanceof joseErrors.JWTExpired || error instanceof joseErrors.JWTClaimValidationFailed) &&
    error.claim === "iat"
  ) {
    const future = error instanceof joseErrors.JWTClaimValidationFailed;
    return new UnauthenticatedError(
      future
        ? `the token's "iat" is in the future (beyond the ${config.clock_skew_seconds} s clock skew)`
        : `the token was issued more than ${config.max_token_age_seconds} s ago (gateway.auth.max_token_age_seconds)`,
      {
        field: "iat",
        fix: future ? "check the issuer's clock, then sign in again" : fix,
      },
    );
  }
  if (error instanceof joseErrors.JWTExpired) return new UnauthenticatedError("the token has expired", { fix });
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return new UnauthenticatedError(`the token's "${error.claim}" claim is not acceptable: ${error.reason}`, {
      field: error.claim,
      fix,
    });
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return new UnauthenticatedError("the token's signing algorithm is not allowed", {
      field: "alg",
      fix: "use a token signed with one of gateway.auth.algorithms",
    });
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return new UnauthenticatedError("no key of the issuer matches the token's kid", { field: "kid", fix });
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new UnauthenticatedError("the token's signature does not verify", { fix });
  }
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
    return new UnauthenticatedError("the issuer's keys could not be fetched", {
      fix: "retry shortly; if it persists, check gateway.auth.jwks_url",
      cause: error,
    });
  }
  return new UnauthenticatedError("the token is not a valid JWT", { fix, cause: error });
}

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const { config } = deps;
  const keys: JWTVerifyGetKey = deps.jwks
    ? createLocalJWKSet(deps.jwks)
    : createRemoteJWKSet(new URL(config.jwks_url ?? `${config.issuer.replace(/\/$/, "")}/.well-known/jwks.json`), {
        cacheMaxAge: deps.cacheMaxAgeMs ?? 600_000,
        cooldownDuration: deps.cooldownMs ?? 30_000,
        timeoutDuration: 5_000,
      });
  // Only asymmetric algorithms are configurable (schema), so an HS256 token
  // "signed" with the public key is refused before any key is looked at.
  const algorithms = [...config.algorithms];
  const now = () => (deps.now ? deps.now() : new Date()).getTime();
  const verified = createVerifiedTokens<Principal>({ ttlMs: deps.verifiedTtlMs ?? 60_000, maxEntries: 10_000, now });

  async function verify(token: string): Promise<Principal> {
    return verified.get(token) ?? verifyAfresh(token);
  }

  async function verifyAfresh(token: string): Promise<Principal> {
    let claims: JWTPayload;
    try {
      const result = await jwtVerify(token, keys, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms,
        clockTolerance: config.clock_skew_seconds,
        requiredClaims: ["exp", "iat"],
        maxTokenAge: config.max_token_age_seconds,
        ...(deps.now ? { currentDate: deps.now() } : {}),
      });
      claims = result.payload;
    } catch (error) {
      throw describeJoseError(error, config);
    }
    // Both are present and numeric (required and checked above). A token made to outlive the maximum
    // age is refused now rather than accepted until it is that old: a stolen one stays useful too long.
    const lifetime = (claims.exp as number) - (claims.iat as number);
    if (lifetime > config.max_token_age_seconds + config.clock_skew_seconds) {
      throw new UnauthenticatedError(
        `the token is valid for ${lifetime} s, longer than gateway.auth.max_token_age_seconds (${config.max_token_age_seconds} s)`,
        {
          field: "exp",
          fix: "configure the issuer to mint shorter-lived access tokens, or raise gateway.auth.max_token_age_seconds",
        },
      );
    }
    // A person is their `sub` and nothing else: an email can be changed, reassigned or unverified,
    // so a token without `sub` is refused rather than identified by another claim.
    const id = claims.sub;
    if (typeof id !== "string" || id.trim() === "") {
      throw new UnauthenticatedError(
        id === undefined
          ? 'the token has no "sub" claim, which is what identifies a person at Wheelhouse'
          : 'the token\'s "sub" claim is not a non-empty string, and it is what identifies a person at Wheelhouse',
        {
          field: "sub",
          fix: "the identity provider must issue a sub claim (the person's stable id) in the access tokens it mints for gateway.auth.audience; configure it to, then sign in again",
        },
      );
    }
    const email = typeof claims.email === "string" ? claims.email : undefined;
    const name = typeof claims.name === "string" ? claims.name : email;
    const groups = groupsFromClaims(claims, config);
    const principal: Principal = {
      actor: Object.freeze({
        kind: "user" as const,
        id,
        roles: Object.freeze(rolesFromClaims(claims, config)) as Role[],
        ...(groups.length === 0 ? {} : { groups: Object.freeze(groups) as string[] }),
        ...(name === undefined || name === id ? {} : { display_name: name }),
      }),
      claims,
    };
    const iat = claims.iat as number;
    verified.set(token, principal, Math.min(claims.exp as number, iat + config.max_token_age_seconds) * 1000);
    return principal;
  }

  return {
    verify,
    async authenticate(authorization) {
      if (!authorization) {
        throw new UnauthenticatedError("no credentials were sent", {
          field: "Authorization",
          fix: "send Authorization: Bearer <token> (a JWT from the configured issuer)",
        });
      }
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match?.[1]) {
        throw new UnauthenticatedError("the Authorization header is not a bearer token", {
          field: "Authorization",
          fix: "send Authorization: Bearer <token>",
        });
      }
      return verify(match[1]);
    },
  };
}

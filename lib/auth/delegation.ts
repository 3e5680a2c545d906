/**
 * A trusted service acting for a person at the API: ChatOps calls the gateway
 * for the Slack user who typed a command or clicked a button.
 *
 * Chosen over minting the person a token with the identity provider (or the
 * development issuer): that would put a key able to mint any identity with any
 * role in the chat service, work only with the development issuer (a real
 * OIDC provider does not hand out user tokens to a bot), and record the call
 * as if the person had made it directly. Instead the service holds its own
 * Ed25519 key and signs a short-lived token (60 s, one per call) naming itself
 * (`sub: service:<name>`) and the person it acts for (`on_behalf_of`); the
 * gateway holds only the public half, accepts such a token only from that
 * issuer, caps the person's roles at what the service may delegate, and marks
 * the request with the service's channel, so an approval made through Slack is
 * recorded as `channel: slack` whatever the request body says. A leaked
 * service key can act as any mapped person for up to the role ceiling, and
 * never as an administrator unless the ceiling says so.
 */
import { type KeyObject, randomUUID } from "node:crypto";
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { ApprovalChannel, Role } from "../../events/index.ts";
import { UnauthenticatedError } from "../errors/index.ts";
import type { Authenticator, Principal } from "./index.ts";

/** The claim naming the person a service acts for. */
export interface OnBehalfOf {
  readonly sub: string;
  readonly roles: readonly Role[];
  readonly groups?: readonly string[] | undefined;
  readonly email?: string | undefined;
}

export interface DelegationSettings {
  /** The service's name (`chatops`): its tokens' issuer is `wheelhouse-delegate:<service>`. */
  readonly service: string;
  /** The channel its people act through (`slack`), recorded on their approvals. */
  readonly channel: ApprovalChannel;
  /** The gateway's audience (`gateway.auth.audience`). */
  readonly audience: string;
  readonly now?: (() => Date) | undefined;
}

const LIFETIME_SECONDS = 60;
const CLOCK_SKEW_SECONDS = 30;
const issuerOf = (service: string) => `wheelhouse-delegate:${service}`;

/** Signs one on-behalf-of token per call. */
export function createDelegationMinter(settings: DelegationSettings & { readonly signingKey: KeyObject }) {
  const now = settings.now ?? (() => new Date());
  return {
    async mint(person: OnBehalfOf): Promise<string> {
      const iat = Math.floor(now().getTime() / 1000);
      const onBehalfOf: Record<string, unknown> = { sub: person.sub, roles: [...person.roles] };
      if (person.groups && person.groups.length > 0) onBehalfOf.groups = [...person.groups];
      if (person.email) onBehalfOf.email = person.email;
      return new SignJWT({ on_behalf_of: onBehalfOf, channel: settings.channel })
        .setProtectedHeader({ alg: "EdDSA", typ: "JWT" })
        .setIssuer(issuerOf(settings.service))
        .setSubject(`service:${settings.service}`)
        .setAudience(settings.audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + LIFETIME_SECONDS)
        .setJti(randomUUID())
        .sign(settings.signingKey);
    },
  };
}

export type DelegationMinter = ReturnType<typeof createDelegationMinter>;

/**
 * The gateway's authenticator, extended to accept the service's on-behalf-of tokens: a token whose
 * (unverified) issuer is the service's is verified with its public key only, and every other token
 * goes to `base` unchanged. The person's roles are capped at `maxRoles`.
 */
export function withDelegation(
  base: Authenticator,
  settings: DelegationSettings & { readonly verifyKey: KeyObject; readonly maxRoles: readonly Role[] },
): Authenticator {
  const issuer = issuerOf(settings.service);
  const refuse = (why: string) =>
    new UnauthenticatedError(`the ${settings.service} on-behalf-of token ${why}`, {
      fix: `check that ${settings.service} signs with the key whose public half the gateway holds (chatops.delegation_verify_key)`,
    });

  async function verifyDelegated(token: string): Promise<Principal> {
    let claims: Awaited<ReturnType<typeof jwtVerify>>["payload"];
    try {
      ({ payload: claims } = await jwtVerify(token, settings.verifyKey, {
        issuer,
        audience: settings.audience,
        subject: `service:${settings.service}`,
        algorithms: ["EdDSA"],
        clockTolerance: CLOCK_SKEW_SECONDS,
        maxTokenAge: LIFETIME_SECONDS + CLOCK_SKEW_SECONDS,
        requiredClaims: ["exp", "iat", "jti"],
        ...(settings.now ? { currentDate: settings.now() } : {}),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw refuse("has expired");
      if (error instanceof joseErrors.JWSSignatureVerificationFailed)
        throw refuse("has a signature that does not verify");
      throw refuse(`is not acceptable: ${(error as Error).message}`);
    }
    if ((claims.exp as number) - (claims.iat as number) > LIFETIME_SECONDS) throw refuse("lives longer than 60 s");
    if (claims.channel !== settings.channel) throw refuse(`names channel ${String(claims.channel)}`);
    const person = claims.on_behalf_of as Partial<OnBehalfOf> | undefined;
    if (!person || typeof person.sub !== "string" || person.sub === "" || !Array.isArray(person.roles)) {
      throw refuse("names no person (on_behalf_of.sub and roles)");
    }
    const roles = person.roles.filter((r): r is Role => settings.maxRoles.includes(r as Role));
    const groups = Array.isArray(person.groups) ? person.groups.filter((g) => typeof g === "string") : [];
    return {
      actor: Object.freeze({
        kind: "user" as const,
        id: person.sub,
        roles: Object.freeze([...new Set(roles)].sort()) as Role[],
        ...(groups.length === 0 ? {} : { groups: Object.freeze(groups) as string[] }),
      }),
      claims,
      delegation: { service: settings.service, channel: settings.channel },
    };
  }

  const isDelegated = (token: string) => {
    try {
      return decodeJwt(token).iss === issuer;
    } catch {
      return false;
    }
  };
  const verify = (token: string) => (isDelegated(token) ? verifyDelegated(token) : base.verify(token));
  return {
    verify,
    async authenticate(authorization) {
      const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (match?.[1] && isDelegated(match[1])) return verifyDelegated(match[1]);
      return base.authenticate(authorization);
    },
  };
}

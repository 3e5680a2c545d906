/**
 * The local development issuer: an ES256 key pair kept under
 * `.data/dev-issuer/`, a static JWKS and discovery document the gateway serves
 * when `gateway.auth.mode` is `dev`, and `mint` for `scripts/mint-token.ts`.
 * Never on in production: the gateway serves it only in dev mode.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK, SignJWT } from "jose";
import type { Role } from "../../events/index.ts";
import { ValidationError } from "../errors/index.ts";

export interface DevIssuer {
  readonly issuer: string;
  jwks(): JSONWebKeySet;
  openidConfiguration(): Record<string, unknown>;
  /** Signs a token whose roles claim holds the groups that map to `roles`. */
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

interface StoredKeys {
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

const ALG = "ES256";

/** Reads the key pair from `dir`, creating it (mode 0600) on first use. */
export async function loadDevIssuer(dir: string, issuer: string): Promise<DevIssuer> {
  const file = join(dir, "keys.json");
  let stored: StoredKeys;
  try {
    stored = JSON.parse(readFileSync(file, "utf8")) as StoredKeys;
  } catch {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = `dev-${randomUUID().slice(0, 8)}`;
    stored = {
      kid,
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALG, use: "sig" },
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: "sig" },
    };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  const privateKey = await importJWK(stored.privateJwk, ALG);
  const base = issuer.replace(/\/$/, "");

  return {
    issuer,
    jwks: () => ({ keys: [stored.publicJwk] }),
    openidConfiguration: () => ({
      issuer,
      jwks_uri: `${base}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: [ALG],
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
    }),
    async mint(options) {
      const groups = options.roles.map((role) => {
        const group = Object.entries(options.roleMap).find(([, r]) => r === role)?.[0];
        if (!group) {
          throw new ValidationError(`no group in gateway.auth.role_map maps to role ${role}`, {
            field: "roles",
            fix: `ask for roles the map names (${[...new Set(Object.values(options.roleMap))].join(", ") || "none"}), or map a group to ${role} in gateway.auth.role_map`,
          });
        }
        return group;
      });
      const groupsClaim = options.groupsClaim ?? options.rolesClaim;
      const approverGroups = [...(options.groups ?? [])];
      return new SignJWT({
        ...(groupsClaim === options.rolesClaim ? {} : { [groupsClaim]: approverGroups }),
        [options.rolesClaim]: groupsClaim === options.rolesClaim ? [...groups, ...approverGroups] : groups,
        ...(options.email ? { email: options.email } : {}),
      })
        .setProtectedHeader({ alg: ALG, kid: stored.kid, typ: "JWT" })
        .setIssuer(issuer)
        .setAudience(options.audience)
        .setSubject(options.sub)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlSeconds ?? 3600}s`)
        .setJti(randomUUID())
        .sign(privateKey);
    },
  };
}

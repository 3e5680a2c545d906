/**
 * Tool-call capabilities: the proof, carried with every tool router call
 * that can touch the world (`ExecuteTool`, `GetResource`, `StreamToolLogs`),
 * that this exact call was authorised.
 *
 * The orchestrator mints one only after its own checks passed (the call is a
 * step, dry run, verification or rollback of the approved plan revision, and
 * for a write the approval still holds right now). It is a compact JWS signed
 * with Ed25519 (`EdDSA`), bound to the execution, the step, the action, the
 * SHA-256 of the input's RFC 8785 canonical JSON, the tool call id, the dry-run
 * flag and the plan revision's digest, and it lives for the tool's timeout
 * plus a margin. The tool router holds only the public key: it can check a
 * capability, never make one. An `execute` or `read` capability is good for
 * one call (its `jti` is remembered until it expires).
 *
 * Errors: no capability is `UnauthenticatedError` (401); a bad signature, an
 * expired or replayed capability, or one for another call is
 * `ForbiddenError` (403). Messages name the claim that differs, never the
 * caller's values.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
} from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { type Config, resolveSecret, type SecretRef } from "../config/index.ts";
import { ConfigError, type FieldIssue, ForbiddenError, UnauthenticatedError } from "../errors/index.ts";
import { canonicalize } from "../json/index.ts";

/** The HTTP header a capability travels in (the `Authorization` header stays free for `tools.router_token`). */
export const CAPABILITY_HEADER = "wheelhouse-capability";

const ISSUER = "wheelhouse-orchestrator";
const AUDIENCE = "wheelhouse-tool-router";
const TYPE = "wh-capability+jwt";
const ALGORITHM = "EdDSA";

/** Which RPC a capability is for: `execute` = ExecuteTool, `read` = GetResource, `logs` = StreamToolLogs. */
export type CapabilityPurpose = "execute" | "read" | "logs";

/** What the orchestrator authorises: one call of one plan revision's step. */
export interface CapabilityGrant {
  readonly purpose: CapabilityPurpose;
  readonly execution_id: string;
  readonly step_id: string;
  readonly action_id: string;
  /** Hashed into `input_sha256`; the capability never carries the input itself. */
  readonly input: Readonly<Record<string, unknown>>;
  readonly tool_call_id?: string | undefined;
  readonly dry_run?: boolean | undefined;
  readonly plan_id: string;
  readonly plan_revision: number;
  /** `planRevisionDigest(steps)` of the revision the call belongs to. */
  readonly plan_digest: string;
}

/** The verified claims of a capability. */
export interface CapabilityClaims {
  readonly purpose: CapabilityPurpose;
  readonly execution_id: string;
  readonly step_id: string;
  readonly action_id: string;
  readonly input_sha256: string;
  readonly tool_call_id: string | null;
  readonly dry_run: boolean;
  readonly plan_id: string;
  readonly plan_revision: number;
  readonly plan_digest: string;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
}

/** The call a capability is checked against: the request's own fields (absent ones are not compared). */
export interface CapabilityCall {
  readonly purpose: CapabilityPurpose;
  readonly execution_id?: unknown;
  readonly step_id?: unknown;
  readonly action_id?: unknown;
  readonly input?: unknown;
  readonly tool_call_id?: unknown;
  readonly dry_run?: unknown;
}

export interface CapabilityMinter {
  /** A signed capability for `grant`, valid for `ttlMs` from now. */
  mint(grant: CapabilityGrant, options: { readonly ttlMs: number }): Promise<string>;
}

export interface CapabilityVerifier {
  /** The claims of `token` when its signature, issuer, audience and lifetime hold; throws 401 (no token) or 403. */
  authenticate(token: string | null | undefined): Promise<CapabilityClaims>;
  /** Checks that authenticated `claims` cover `call` and spends a single-use capability; throws 403 if not. */
  authorise(claims: CapabilityClaims, call: CapabilityCall): void;
  /** `authenticate` then `authorise`. */
  verify(token: string | null | undefined, call: CapabilityCall): Promise<CapabilityClaims>;
}

/** Hex SHA-256 of the RFC 8785 canonical JSON of a tool input: what a capability binds. */
export function toolInputSha256(input: unknown): string {
  return createHash("sha256").update(canonicalize(input)).digest("hex");
}

export function createCapabilityMinter(deps: {
  readonly signingKey: KeyObject;
  readonly now?: (() => Date) | undefined;
  readonly newId?: (() => string) | undefined;
}): CapabilityMinter {
  assertEd25519(deps.signingKey, "private", "orchestrator.capability_signing_key");
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? (() => randomUUID());
  return {
    async mint(grant, { ttlMs }) {
      const iat = Math.floor(now().getTime() / 1000);
      return new SignJWT({
        purpose: grant.purpose,
        execution_id: grant.execution_id,
        step_id: grant.step_id,
        action_id: grant.action_id,
        input_sha256: toolInputSha256(grant.input),
        tool_call_id: grant.tool_call_id ?? null,
        dry_run: grant.dry_run === true,
        plan_id: grant.plan_id,
        plan_revision: grant.plan_revision,
        plan_digest: grant.plan_digest,
      })
        .setProtectedHeader({ alg: ALGORITHM, typ: TYPE })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(iat + Math.max(1, Math.ceil(ttlMs / 1000)))
        .setJti(newId())
        .sign(deps.signingKey);
    },
  };
}

export interface CapabilityVerifierDeps {
  readonly verifyKey: KeyObject;
  readonly now?: (() => Date) | undefined;
  /** Allowed clock difference between orchestrator and router; default 5 s. */
  readonly clockToleranceSeconds?: number | undefined;
  /** Longest lifetime (exp − iat) accepted; default an hour and five minutes (the longest tool timeout and a margin). */
  readonly maxLifetimeSeconds?: number | undefined;
}

const FIX_MISSING = `have the orchestrator call the tool router: it sends a ${CAPABILITY_HEADER} header for each approved call`;
const FIX_INVALID =
  "have the orchestrator mint a new capability for this call; check that tools.capability_verify_key is the public half of orchestrator.capability_signing_key";

export function createCapabilityVerifier(deps: CapabilityVerifierDeps): CapabilityVerifier {
  assertEd25519(deps.verifyKey, "public", "tools.capability_verify_key");
  const now = deps.now ?? (() => new Date());
  const tolerance = deps.clockToleranceSeconds ?? 5;
  const maxLifetime = deps.maxLifetimeSeconds ?? 3900;
  /** jti → exp of single-use capabilities already spent. */
  const spent = new Map<string, number>();

  const forbidden = (message: string) => new ForbiddenError(message, { field: CAPABILITY_HEADER, fix: FIX_INVALID });

  async function authenticate(token: string | null | undefined): Promise<CapabilityClaims> {
    if (!token) {
      throw new UnauthenticatedError(`this call carries no capability`, {
        field: CAPABILITY_HEADER,
        fix: FIX_MISSING,
      });
    }
    const at = now();
    let payload: Record<string, unknown>;
    try {
      const result = await jwtVerify(token, deps.verifyKey, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: TYPE,
        clockTolerance: tolerance,
        requiredClaims: ["iat", "exp", "jti"],
        currentDate: at,
      });
      payload = result.payload as Record<string, unknown>;
    } catch (error) {
      throw forbidden(`the capability is not valid: ${describe(error)}`);
    }
    const claims = parseClaims(payload);
    if (!claims) throw forbidden("the capability's claims are malformed");
    const nowSeconds = Math.floor(at.getTime() / 1000);
    if (claims.iat > nowSeconds + tolerance) throw forbidden("the capability is issued in the future");
    if (claims.exp - claims.iat > maxLifetime) {
      throw forbidden(`the capability lives longer than ${maxLifetime} s`);
    }
    return claims;
  }

  function authorise(claims: CapabilityClaims, call: CapabilityCall): void {
    if (claims.purpose !== call.purpose) {
      throw forbidden(`the capability is for ${claims.purpose}, not ${call.purpose}`);
    }
    const differs: string[] = [];
    const compare = (name: string, expected: unknown, given: unknown) => {
      if (expected !== given) differs.push(name);
    };
    if (call.purpose === "logs") {
      compare("tool_call_id", claims.tool_call_id, call.tool_call_id ?? null);
    } else {
      compare("execution_id", claims.execution_id, call.execution_id);
      compare("step_id", claims.step_id, call.step_id);
      compare("action_id", claims.action_id, call.action_id);
      let inputHash: string | null = null;
      try {
        inputHash = toolInputSha256(call.input);
      } catch {
        inputHash = null;
      }
      compare("input", claims.input_sha256, inputHash);
      if (call.purpose === "execute") {
        compare("tool_call_id", claims.tool_call_id, call.tool_call_id ?? null);
        compare("dry_run", claims.dry_run, call.dry_run === true);
      }
    }
    if (differs.length > 0) {
      throw forbidden(`the capability does not cover this call: ${differs.join(", ")} differ`);
    }

    if (claims.purpose !== "logs") {
      const nowSeconds = Math.floor(now().getTime() / 1000);
      for (const [jti, exp] of spent) if (exp + tolerance < nowSeconds) spent.delete(jti);
      if (spent.has(claims.jti)) throw forbidden("the capability was already used");
      spent.set(claims.jti, claims.exp);
    }
  }

  return {
    authenticate,
    authorise,
    async verify(token, call) {
      const claims = await authenticate(token);
      authorise(claims, call);
      return claims;
    },
  };
}

/** A fresh Ed25519 pair held only in memory (the embedded profile, tests). */
export function generateCapabilityKeys(): { signingKey: KeyObject; verifyKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { signingKey: privateKey, verifyKey: publicKey };
}

const KEYGEN_FIX =
  "make a pair with `openssl genpkey -algorithm ed25519 -out capability.pem && openssl pkey -in capability.pem -pubout -out capability.pub.pem`";

/** The orchestrator's signing key from a PEM secret reference, or null when `ref` is unset. */
export function loadSigningKey(ref: SecretRef | undefined, field: string): KeyObject | null {
  const pem = readRef(ref, field);
  if (pem === null) return null;
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw keyError(`${field} is not a PEM private key`, {
      field,
      message: (cause as Error).message,
      fix: `point ${field} at an Ed25519 private key in PEM; ${KEYGEN_FIX}`,
    });
  }
  assertEd25519(key, "private", field);
  return key;
}

/** The tool router's verify key from a PEM secret reference, or null when `ref` is unset. Refuses a private key. */
export function loadVerifyKey(ref: SecretRef | undefined, field: string): KeyObject | null {
  const pem = readRef(ref, field);
  if (pem === null) return null;
  if (/PRIVATE KEY/.test(pem)) {
    throw keyError(`${field} holds a private key; the tool router must hold only the public half`, {
      field,
      message: "is a private key",
      fix: "give the router the public half: `openssl pkey -in capability.pem -pubout -out capability.pub.pem`",
    });
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw keyError(`${field} is not a PEM public key`, {
      field,
      message: (cause as Error).message,
      fix: `point ${field} at an Ed25519 public key in PEM; ${KEYGEN_FIX}`,
    });
  }
  assertEd25519(key, "public", field);
  return key;
}

/** The tool router's verify key from `tools.capability_verify_key`; a router without one refuses to start. */
export function requireVerifyKey(config: Config): KeyObject {
  const key = loadVerifyKey(config.tools.capability_verify_key, "tools.capability_verify_key");
  if (key) return key;
  throw keyError("tools.capability_verify_key is unset, so the tool router cannot check call capabilities", {
    field: "tools.capability_verify_key",
    message: "is unset",
    fix: `set tools.capability_verify_key to file:/path/capability.pub.pem, the public half of orchestrator.capability_signing_key (${KEYGEN_FIX}), or run the embedded profile`,
  });
}

/** The orchestrator's signing key from `orchestrator.capability_signing_key`; an orchestrator without one refuses to start. */
export function requireSigningKey(config: Config): KeyObject {
  const key = loadSigningKey(config.orchestrator.capability_signing_key, "orchestrator.capability_signing_key");
  if (key) return key;
  throw keyError("orchestrator.capability_signing_key is unset, so the orchestrator cannot sign call capabilities", {
    field: "orchestrator.capability_signing_key",
    message: "is unset",
    fix: `set orchestrator.capability_signing_key to file:/path/capability.pem (${KEYGEN_FIX}) and give the tool router the public half, or run the embedded profile`,
  });
}

/**
 * The pair for the embedded profile (orchestrator and router in one process):
 * the configured keys when set (the verify key derived from the signing key
 * when only that is set), otherwise a fresh pair held only in memory.
 */
export function embeddedCapabilityKeys(config: Config): { signingKey: KeyObject; verifyKey: KeyObject } {
  const signingKey = loadSigningKey(config.orchestrator.capability_signing_key, "orchestrator.capability_signing_key");
  const verifyKey = loadVerifyKey(config.tools.capability_verify_key, "tools.capability_verify_key");
  if (!signingKey && !verifyKey) return generateCapabilityKeys();
  if (!signingKey) {
    throw keyError("tools.capability_verify_key is set but orchestrator.capability_signing_key is not", {
      field: "orchestrator.capability_signing_key",
      message: "is unset while tools.capability_verify_key is set",
      fix: "set orchestrator.capability_signing_key to the private half, or unset both to use a per-process key pair",
    });
  }
  const derived = createPublicKey(signingKey);
  if (verifyKey && !sameKey(verifyKey, derived)) {
    throw keyError("tools.capability_verify_key is not the public half of orchestrator.capability_signing_key", {
      field: "tools.capability_verify_key",
      message: "does not match orchestrator.capability_signing_key",
      fix: "derive it with `openssl pkey -in capability.pem -pubout`, or unset it (the embedded profile derives it)",
    });
  }
  return { signingKey, verifyKey: verifyKey ?? derived };
}

/** A key problem as one line that ends with its fix (start-up prints a configuration error's message alone). */
function keyError(summary: string, issue: FieldIssue & { readonly fix: string }): ConfigError {
  return new ConfigError(`${summary}. Fix: ${issue.fix}`, [issue], { field: issue.field, fix: issue.fix });
}

function readRef(ref: SecretRef | undefined, field: string): string | null {
  if (ref === undefined) return null;
  const value = resolveSecret(ref);
  if (value !== null) return value;
  throw keyError(`${field} names ${ref}, which is empty or missing`, {
    field,
    message: `${ref} is empty or missing`,
    fix: ref.startsWith("env:") ? `export ${ref.slice(4)} with the PEM key` : `create ${ref.slice(5)} with the PEM key`,
  });
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return (
    a.export({ format: "der", type: "spki" }).toString("base64") ===
    b.export({ format: "der", type: "spki" }).toString("base64")
  );
}

function assertEd25519(key: KeyObject, type: "private" | "public", field: string): void {
  if (key.type === type && key.asymmetricKeyType === "ed25519") return;
  throw keyError(`${field} must be an Ed25519 ${type} key`, {
    field,
    message: `is a ${key.asymmetricKeyType ?? key.type} ${key.type} key`,
    fix: `use an Ed25519 ${type} key; ${KEYGEN_FIX}`,
  });
}

function parseClaims(p: Record<string, unknown>): CapabilityClaims | null {
  const str = (k: string) => typeof p[k] === "string" && (p[k] as string).length > 0;
  if (p.purpose !== "execute" && p.purpose !== "read" && p.purpose !== "logs") return null;
  for (const k of ["execution_id", "step_id", "action_id", "input_sha256", "plan_id", "plan_digest", "jti"]) {
    if (!str(k)) return null;
  }
  if (p.tool_call_id !== null && !str("tool_call_id")) return null;
  if (typeof p.dry_run !== "boolean" || !Number.isInteger(p.plan_revision)) return null;
  if (!Number.isInteger(p.iat) || !Number.isInteger(p.exp)) return null;
  return p as unknown as CapabilityClaims;
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "it has expired";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "its signature does not verify";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "it is not signed with EdDSA";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim ${error.claim} ${error.reason}`;
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid)
    return "it is not a compact JWS";
  return "it could not be verified";
}

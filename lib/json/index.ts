/** JSON helpers shared below every domain library: the RFC 8785 canonical form that hashes and signatures cover. */
export { canonicalize, canonicalizeKnownKeys } from "./canonical.ts";

/** The audit chain's canonical JSON (RFC 8785) now lives in lib/json, where the tool capabilities hash with it too. */
export { canonicalize, canonicalizeKnownKeys } from "../json/index.ts";

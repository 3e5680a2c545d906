/**
 * What every webhook provider shares: the normalized signal shape, the
 * closed-when-unconfigured secret check and constant-time comparison.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type * as v from "valibot";
import type { SignalReceivedSchema } from "../../../events/index.ts";
import { UnauthenticatedError } from "../../../lib/errors/index.ts";

/** A `signal.received` payload before its id (derived from `dedupe_key`) is set. */
export type Signal = Omit<v.InferInput<typeof SignalReceivedSchema>, "signal_id">;

/** Constant-time string comparison; hashing first makes the lengths equal and leaks nothing about them. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** 401 naming the provider, the header at fault and how to set it. */
export function unauthenticated(source: string, header: string, fix: string): UnauthenticatedError {
  return new UnauthenticatedError(`the ${source} webhook credentials are missing or wrong`, { field: header, fix });
}

/** The configured secret; an unconfigured webhook refuses every delivery (401 naming the setting). */
export function requireSecret(secret: string | null, source: string, setting: string): string {
  if (secret === null) {
    // Not configured means closed: an unauthenticated webhook would let anyone raise signals.
    throw new UnauthenticatedError(`the ${source} webhook is not configured on this gateway`, {
      field: setting,
      fix: `set ${setting} to a secret reference (env:NAME or file:/path) and restart the gateway`,
    });
  }
  return secret;
}

/** The first of `names` that `labels` has a value for. */
export function pick(labels: Record<string, string>, ...names: string[]): string | undefined {
  for (const n of names) if (labels[n]) return labels[n];
  return undefined;
}

/** `o` without its undefined members (an event payload holds no explicit undefined). */
export function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
}

/** `owner/name` (or `group/sub/name`) → `name`: the service a repository most likely is. */
export function repoName(fullName: string): string {
  return fullName.split("/").pop() ?? fullName;
}

/**
 * The identity of a plan revision's content: what an approval and a tool
 * capability bind to, so that a change to any step (action, input, target,
 * verification, rollback) is a different digest.
 */
import { createHash } from "node:crypto";
import type { PlanStep } from "../../events/index.ts";
import { canonicalize } from "../json/index.ts";

/** Hex SHA-256 of the RFC 8785 canonical JSON of a plan revision's steps, in their order. */
export function planRevisionDigest(steps: readonly PlanStep[]): string {
  return createHash("sha256").update(canonicalize(steps)).digest("hex");
}

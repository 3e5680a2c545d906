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

/**
 * A proposed revision's digest: its steps' digest, or null when the digest it recorded
 * (`plan.proposed`'s `digest`) is not that (a planner bug or a tampered event: nothing may
 * approve or run it). Revisions proposed before the field existed have their steps' digest.
 */
export function revisionDigest(proposed: {
  readonly steps: readonly PlanStep[];
  readonly digest?: string | undefined;
}) {
  const digest = planRevisionDigest(proposed.steps);
  return proposed.digest === undefined || proposed.digest === digest ? digest : null;
}

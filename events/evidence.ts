/** Evidence blobs (prompts, model answers, tool output, diffs), recorded on the plan or execution they belong to. */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

export const EvidenceKindSchema = v.picklist([
  "prompt",
  "model_response",
  "tool_output",
  "diff",
  "verification",
  "signal",
  /** The service graph a plan was made from (lib/planner/snapshot.ts). */
  "context_snapshot",
]);

export const EvidenceStoredSchema = v.object({
  evidence_id: IdSchema,
  owner_type: v.picklist(["plan", "execution"]),
  owner_id: IdSchema,
  kind: EvidenceKindSchema,
  /** Where the blob is: `s3://bucket/key` or `file://...`. */
  uri: v.string(),
  sha256: v.pipe(v.string(), v.regex(/^[a-f0-9]{64}$/)),
  size_bytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
  content_type: v.string(),
  redacted: v.boolean(),
});

export const evidenceEvents = {
  "evidence.stored": { aggregate: ["plan", "execution"], version: 1, schema: EvidenceStoredSchema },
} as const;

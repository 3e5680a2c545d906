/** Signals from outside: alerts, deploy and git webhooks, normalized. One aggregate per deduplicated signal. */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

export const SignalReceivedSchema = v.object({
  signal_id: IdSchema,
  source: v.picklist(["alertmanager", "argocd", "github", "gitlab"]),
  kind: v.string(),
  status: v.optional(v.picklist(["firing", "resolved"])),
  /** What deduplicates it: group key + fingerprint + status, delivery id, ... */
  dedupe_key: v.string(),
  summary: v.string(),
  service: v.optional(v.string()),
  environment: v.optional(v.string()),
  labels: v.optional(v.record(v.string(), v.string()), {}),
  annotations: v.optional(v.record(v.string(), v.string()), {}),
  /** Source-specific details kept for the planner and the audit trail. */
  details: v.optional(v.record(v.string(), v.unknown()), {}),
  raw_sha256: v.optional(v.string()),
});

export const signalEvents = {
  "signal.received": { aggregate: "signal", version: 1, schema: SignalReceivedSchema },
} as const;

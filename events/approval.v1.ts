/**
 * `approval.granted` and `approval.denied` schema version 1, as written
 * before approvals named a channel beyond api/slack/linear (`via`) and the
 * digest of the revision they approve. Kept to read old streams; upcast to v2
 * with `channel` from `via` and `digest: null` (unknown: such an approval
 * never counts for execution).
 */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

export const ApprovalGrantedV1Schema = v.object({
  plan_id: IdSchema,
  revision: v.pipe(v.number(), v.integer(), v.minValue(1)),
  approval_id: IdSchema,
  approver: v.string(),
  via: v.picklist(["api", "slack", "linear"]),
  comment: v.optional(v.string()),
});

export const ApprovalDeniedV1Schema = v.object({
  ...ApprovalGrantedV1Schema.entries,
  reason: v.string(),
});

export function upcastApprovalGrantedV1(payload: unknown): unknown {
  const { via, ...rest } = v.parse(ApprovalGrantedV1Schema, payload);
  return { ...rest, channel: via, digest: null };
}

export function upcastApprovalDeniedV1(payload: unknown): unknown {
  const { via, ...rest } = v.parse(ApprovalDeniedV1Schema, payload);
  return { ...rest, channel: via, digest: null };
}

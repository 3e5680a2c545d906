/** Approvals, recorded on the plan they approve; each binds to one plan revision. */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

const ApprovalChannelSchema = v.picklist(["api", "slack", "linear"]);

export const ApprovalRequestedSchema = v.object({
  plan_id: IdSchema,
  revision: v.pipe(v.number(), v.integer(), v.minValue(1)),
  approval_id: IdSchema,
  approvers_required: v.pipe(v.number(), v.integer(), v.minValue(1)),
  expires_at: v.pipe(v.string(), v.isoTimestamp()),
  channels: v.array(ApprovalChannelSchema),
  links: v.optional(v.record(v.string(), v.string()), {}),
});

export const ApprovalGrantedSchema = v.object({
  plan_id: IdSchema,
  revision: v.pipe(v.number(), v.integer(), v.minValue(1)),
  approval_id: IdSchema,
  approver: v.string(),
  via: ApprovalChannelSchema,
  comment: v.optional(v.string()),
});

export const ApprovalDeniedSchema = v.object({
  ...ApprovalGrantedSchema.entries,
  reason: v.string(),
});

export const ApprovalExpiredSchema = v.object({
  plan_id: IdSchema,
  revision: v.pipe(v.number(), v.integer(), v.minValue(1)),
  approval_id: IdSchema,
});

export const approvalEvents = {
  "approval.requested": { aggregate: "plan", version: 1, schema: ApprovalRequestedSchema },
  "approval.granted": { aggregate: "plan", version: 1, schema: ApprovalGrantedSchema },
  "approval.denied": { aggregate: "plan", version: 1, schema: ApprovalDeniedSchema },
  "approval.expired": { aggregate: "plan", version: 1, schema: ApprovalExpiredSchema },
} as const;

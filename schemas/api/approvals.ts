/** `/v1/approvals`: grant or deny one plan revision, naming the digest of what the approver reviewed. */
import * as v from "valibot";
import { ApprovalChannelSchema } from "../../events/index.ts";
import { IdSchema } from "./common.ts";

/** A plan revision's digest as the API serves it (`digest` of GET /v1/plans/{id}). */
export const PlanDigestParamSchema = v.pipe(
  v.string("must be text"),
  v.regex(/^[0-9a-f]{64}$/, "must be the 64-hex-digit digest GET /v1/plans/{id} shows"),
);

export const ApprovalRequestSchema = v.strictObject({
  plan_id: IdSchema,
  revision: v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(1, "must be >= 1")),
  decision: v.picklist(["grant", "deny"], 'must be "grant" or "deny"'),
  /** The digest of the revision the approver reviewed: refused (409) unless it is the revision's. */
  digest: PlanDigestParamSchema,
  /** Where the approver answered; policy says which channels may approve which tiers. */
  channel: v.optional(v.picklist(ApprovalChannelSchema.options, "must be api, cli, console, slack or linear"), "api"),
  comment: v.optional(v.pipe(v.string(), v.maxLength(2000, "must be at most 2000 characters"))),
  /** A break-glass grant: alone meets the quorum where policy allows it; needs `reason`. */
  break_glass: v.optional(v.boolean("must be true or false")),
  /** Why the break-glass approval cannot wait; required with `break_glass`. */
  reason: v.optional(v.pipe(v.string(), v.maxLength(2000, "must be at most 2000 characters"))),
});
export type ApprovalRequest = v.InferOutput<typeof ApprovalRequestSchema>;

/** `/v1/approvals`: grant or deny one plan revision. */
import * as v from "valibot";
import { IdSchema } from "./common.ts";

export const ApprovalRequestSchema = v.strictObject({
  plan_id: IdSchema,
  revision: v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(1, "must be >= 1")),
  decision: v.picklist(["grant", "deny"], 'must be "grant" or "deny"'),
  comment: v.optional(v.pipe(v.string(), v.maxLength(2000, "must be at most 2000 characters"))),
});
export type ApprovalRequest = v.InferOutput<typeof ApprovalRequestSchema>;

/** Policy decisions, recorded on the plan they decide. */
import * as v from "valibot";
import { ApprovalRequirementSchema } from "./approval.ts";
import { IdSchema } from "./envelope.ts";

export const DecisionSchema = v.picklist(["allow", "require_approval", "deny"]);
export const TierSchema = v.picklist(["T0", "T1", "T2", "T3"]);

export const StepDecisionSchema = v.object({
  step_id: v.string(),
  decision: DecisionSchema,
  tier: TierSchema,
  reasons: v.array(v.string()),
  approvers_required: v.pipe(v.number(), v.integer(), v.minValue(0)),
  constraints: v.record(v.string(), v.unknown()),
  /** Who must approve this step; absent on decisions recorded before policy returned it. */
  approval: v.optional(ApprovalRequirementSchema),
});

export const PolicyDecidedSchema = v.object({
  plan_id: IdSchema,
  revision: v.pipe(v.number(), v.integer(), v.minValue(1)),
  decision: DecisionSchema,
  tier: TierSchema,
  reasons: v.array(v.string()),
  approvers_required: v.pipe(v.number(), v.integer(), v.minValue(0)),
  constraints: v.record(v.string(), v.unknown()),
  ttl_seconds: v.pipe(v.number(), v.integer(), v.minValue(0)),
  expires_at: v.pipe(v.string(), v.isoTimestamp()),
  policy_revision: v.string(),
  steps: v.array(StepDecisionSchema),
  /**
   * Who must approve the revision (the steps' requirements combined); absent on decisions recorded
   * before policy returned it, when `approvers_required` people and `constraints.self_approval` say it.
   */
  approval: v.optional(ApprovalRequirementSchema),
});

export const policyEvents = {
  "policy.decided": { aggregate: "plan", version: 1, schema: PolicyDecidedSchema },
} as const;

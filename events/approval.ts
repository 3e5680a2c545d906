/**
 * Approvals, recorded on the plan they approve. Each binds to one plan
 * revision and to the digest of that revision's steps (`plan.proposed`'s
 * `digest`, see lib/domain/digest.ts): an approver approves what they saw.
 *
 * `approval.granted` and `approval.denied` are at schema version 2: `via`
 * became `channel` and `digest` was added. Version 1 lives in approval.v1.ts
 * with its upcaster.
 */
import * as v from "valibot";
import { IdSchema } from "./envelope.ts";

/** Where an approver answered: the API itself, the CLI, the web console, Slack or Linear. */
export const ApprovalChannelSchema = v.picklist(["api", "cli", "console", "slack", "linear"]);
export type ApprovalChannel = v.InferOutput<typeof ApprovalChannelSchema>;

/** Hex SHA-256 of a plan revision's canonical steps (`planRevisionDigest`). */
export const PlanDigestSchema = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits"));

/** An approver group name, as the identity provider's groups claim maps it (`sre`, `security`, `break-glass`). */
export const ApproverGroupSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "must be 1-64 lowercase letters, digits, '.', '_' or '-'"),
);

/**
 * Who must approve a revision, as policy decided it (`policy.decided`'s
 * `approval`): `approvers` distinct people, among them at least `count`
 * from each named group (one person fills one group slot), never the
 * requester unless `self_approval`, only through `channels`, within
 * `ttl_seconds` of the decision (and never past the decision's own
 * `expires_at`). A member of a `break_glass.groups` group may approve alone,
 * with a reason, where `break_glass.allowed`.
 */
export const ApprovalRequirementSchema = v.object({
  approvers: v.pipe(v.number(), v.integer(), v.minValue(0)),
  groups: v.array(v.object({ group: ApproverGroupSchema, count: v.pipe(v.number(), v.integer(), v.minValue(1)) })),
  self_approval: v.boolean(),
  channels: v.array(ApprovalChannelSchema),
  ttl_seconds: v.pipe(v.number(), v.integer(), v.minValue(0)),
  break_glass: v.object({
    allowed: v.boolean(),
    groups: v.array(ApproverGroupSchema),
  }),
});
export type ApprovalRequirement = v.InferOutput<typeof ApprovalRequirementSchema>;

const RevisionSchema = v.pipe(v.number(), v.integer(), v.minValue(1));

export const ApprovalRequestedSchema = v.object({
  plan_id: IdSchema,
  revision: RevisionSchema,
  approval_id: IdSchema,
  approvers_required: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** When the pending request expires: the policy's approval TTL, capped by the decision's `expires_at`. */
  expires_at: v.pipe(v.string(), v.isoTimestamp()),
  channels: v.array(ApprovalChannelSchema),
  links: v.optional(v.record(v.string(), v.string()), {}),
  /** The revision's digest; absent on requests recorded before digests existed. */
  digest: v.optional(PlanDigestSchema),
});

/** What every answer says: who, for which revision and digest, through which channel. */
const answerEntries = {
  plan_id: IdSchema,
  revision: RevisionSchema,
  approval_id: IdSchema,
  approver: v.string(),
  channel: ApprovalChannelSchema,
  /** The digest the approver was shown; null only on v1 events, which therefore never count for execution. */
  digest: v.nullable(PlanDigestSchema),
  comment: v.optional(v.string()),
};

/** `approval.granted` v2. The approver is the event's actor (its `groups` count toward the quorum). */
export const ApprovalGrantedSchema = v.object({
  ...answerEntries,
  /** A break-glass approval: it meets the quorum alone; `reason` says why. */
  break_glass: v.optional(v.boolean()),
  /** Mandatory with `break_glass`. */
  reason: v.optional(v.string()),
});

export const ApprovalDeniedSchema = v.object({
  ...answerEntries,
  reason: v.string(),
});

/** The pending request's TTL passed before the quorum was met; appended once per revision by the expiry timer. */
export const ApprovalExpiredSchema = v.object({
  plan_id: IdSchema,
  revision: RevisionSchema,
  approval_id: IdSchema,
  digest: v.optional(PlanDigestSchema),
});

export const approvalEvents = {
  "approval.requested": { aggregate: "plan", version: 1, schema: ApprovalRequestedSchema },
  "approval.granted": { aggregate: "plan", version: 2, schema: ApprovalGrantedSchema },
  "approval.denied": { aggregate: "plan", version: 2, schema: ApprovalDeniedSchema },
  "approval.expired": { aggregate: "plan", version: 1, schema: ApprovalExpiredSchema },
} as const;

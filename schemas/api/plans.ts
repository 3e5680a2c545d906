/** `/v1/plans`: request a change, read plans, execute an approved revision. */
import * as v from "valibot";
import { PlanDigestParamSchema } from "./approvals.ts";
import { ActorViewSchema, CreatedFilterEntries, CursorSchema, LimitSchema, pageSchema, WaitSchema } from "./common.ts";

const name = v.pipe(v.string(), v.minLength(1), v.maxLength(128), v.regex(/^[A-Za-z0-9_.-]+$/, "must be a plain name"));

export const CreatePlanRequestSchema = v.strictObject({
  /** The change, in plain words. */
  intent: v.pipe(
    v.string("must be text"),
    v.trim(),
    v.minLength(1, "must not be empty"),
    v.maxLength(4000, "must be at most 4000 characters"),
  ),
  environment: v.optional(name),
  service: v.optional(name),
});
export type CreatePlanRequest = v.InferOutput<typeof CreatePlanRequestSchema>;

/** As in the plans read model (projections/plans PlanViewStatus). */
export const PlanStatusSchema = v.picklist([
  "requested",
  "proposed",
  "failed",
  "pending_approval",
  "approved",
  "rejected",
  "denied",
  "expired",
]);

export const ListPlansQuerySchema = v.strictObject({
  status: v.optional(PlanStatusSchema),
  service: v.optional(name),
  environment: v.optional(name),
  ...CreatedFilterEntries,
  cursor: CursorSchema,
  limit: LimitSchema,
});

export const PlanIdParamsSchema = v.strictObject({ id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,128}$/)) });

/** A plan as served: the plans read model's row, its current revision's steps and its approvals. */
export const PlanResponseSchema = v.object({
  plan_id: v.string(),
  status: PlanStatusSchema,
  revision: v.nullable(v.number()),
  intent: v.nullable(v.string()),
  source: v.nullable(v.string()),
  environment: v.nullable(v.string()),
  service: v.nullable(v.string()),
  signal_id: v.nullable(v.string()),
  summary: v.nullable(v.string()),
  /**
   * The current revision's digest (sha256 of its canonical steps): send it with an approval (and,
   * optionally, with execute) so that what runs is what was approved.
   */
  digest: v.nullable(v.string()),
  planner: v.unknown(),
  failure_reasons: v.nullable(v.array(v.string())),
  decision: v.nullable(v.string()),
  tier: v.nullable(v.string()),
  policy: v.unknown(),
  approvals_required: v.number(),
  approvals_granted: v.number(),
  approvers_required: v.number(),
  actor_id: v.nullable(v.string()),
  requested_by: v.nullable(ActorViewSchema),
  correlation_id: v.nullable(v.string()),
  /** The plan's stream version: send it as `If-Match` on approvals and execute. */
  version: v.number(),
  last_seq: v.number(),
  steps: v.array(v.record(v.string(), v.unknown())),
  approvals: v.array(v.record(v.string(), v.unknown())),
  created_at: v.string(),
  updated_at: v.string(),
});
export type PlanResponse = v.InferOutput<typeof PlanResponseSchema>;

export const PlanPageSchema = pageSchema(PlanResponseSchema);

export const ExecutePlanRequestSchema = v.strictObject({
  revision: v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(1, "must be >= 1")),
  dry_run: v.optional(v.boolean("must be true or false")),
  /** The digest of the revision the caller reviewed; refused (409) when the revision's is another. */
  digest: v.optional(PlanDigestParamSchema),
});

/** `?wait=N` is the query form of `Prefer: wait=N`. */
export const CommandQuerySchema = v.strictObject({ wait: WaitSchema });

/** Every `wait` preference in a `Prefer` header names whole seconds (RFC 7240; other preferences pass). */
const PREFER_WAIT = /(?:^|[\s,;])wait\s*=\s*([^\s,;]*)/gi;

/**
 * The headers a command reads, by their lower-case names (HTTP headers are case-insensitive): checked
 * with the rest of the request before anything is appended. Other headers pass untouched.
 */
export const CommandHeadersSchema = v.looseObject({
  "idempotency-key": v.optional(
    v.pipe(v.string(), v.regex(/^[\x21-\x7e]{1,255}$/, "must be 1-255 printable ASCII characters, e.g. a UUID")),
  ),
  "if-match": v.optional(
    v.pipe(
      v.string(),
      v.regex(/^(W\/)?("\d{1,15}"|\d{1,15})$/, 'must be the version the plan was read at (its ETag), e.g. "12"'),
    ),
  ),
  prefer: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (value) => [...value.matchAll(PREFER_WAIT)].every((m) => /^\d{1,3}$/.test(m[1] ?? "")),
        "must name whole seconds in its wait preference, e.g. wait=5",
      ),
    ),
  ),
  "x-correlation-id": v.optional(
    v.pipe(v.string(), v.regex(/^[\w.:-]{1,128}$/, "must be 1-128 letters, digits, _ . : or -")),
  ),
});

/**
 * The audit API: the hash-chained trail (list, NDJSON export with its chain
 * proof, verification), aggregates as of a time, and a change explained from
 * intent to outcome. There is no request shape that changes or removes a
 * record: the trail only grows.
 */
import * as v from "valibot";
import { ActorViewSchema, CursorSchema, LimitSchema, pageSchema, TimestampSchema } from "./common.ts";
import { ExecutionResponseSchema } from "./executions.ts";
import { PlanResponseSchema } from "./plans.ts";

const timestamp = TimestampSchema;

const booleanText = v.optional(
  v.pipe(
    v.picklist(["true", "false"], 'must be "true" or "false"'),
    v.transform((s) => s === "true"),
  ),
);

/**
 * Filters of the trail. `from`/`to`/`actor`/`type` are the names the issue
 * uses; `since`/`until`/`actor_id`/`action` are the earlier names, still accepted.
 */
export const AuditFilterEntries = {
  /** Occurred at or after. */
  from: v.optional(timestamp),
  /** Occurred before (exclusive). */
  to: v.optional(timestamp),
  /** Actor id (user, service or system). */
  actor: v.optional(v.string()),
  aggregate_type: v.optional(v.picklist(["plan", "execution", "signal", "context"])),
  aggregate_id: v.optional(v.string()),
  /** Event type, e.g. `policy.decided`. */
  type: v.optional(v.string()),
  correlation_id: v.optional(v.string()),
  /** Every record of every change (correlation) that names this service. */
  service: v.optional(v.string()),
  since: v.optional(timestamp),
  until: v.optional(timestamp),
  actor_id: v.optional(v.string()),
  action: v.optional(v.string()),
};

export const AuditQuerySchema = v.strictObject({ ...AuditFilterEntries, cursor: CursorSchema, limit: LimitSchema });
export type AuditQuery = v.InferOutput<typeof AuditQuerySchema>;

export const AuditExportQuerySchema = v.strictObject({
  ...AuditFilterEntries,
  /**
   * Also have the database compare every column with the hashed text while
   * exporting (what /v1/audit/verify does; about half the export's speed).
   * The exported lines are the hashed texts either way.
   */
  check_columns: booleanText,
});
export type AuditExportQuery = v.InferOutput<typeof AuditExportQuerySchema>;

export const AuditEventViewSchema = v.object({
  seq: v.number(),
  event_id: v.string(),
  action: v.string(),
  aggregate_type: v.string(),
  aggregate_id: v.string(),
  occurred_at: v.string(),
  actor: v.unknown(),
  outcome: v.nullable(v.string()),
  service: v.nullable(v.string()),
  correlation_id: v.nullable(v.string()),
  causation_id: v.nullable(v.string()),
  payload: v.unknown(),
  prev_hash: v.string(),
  hash: v.string(),
});

export const AuditPageSchema = pageSchema(AuditEventViewSchema);

const ChainFailureSchema = v.object({
  kind: v.picklist(["altered", "deleted", "reordered"]),
  /** Chain position of the record at fault. */
  seq: v.number(),
  event_id: v.nullable(v.string()),
  message: v.string(),
  expected: v.optional(v.union([v.string(), v.number()])),
  found: v.optional(v.union([v.string(), v.number()])),
});

/**
 * One line of `GET /v1/audit/events.ndjson` (RFC 8785 canonical JSON): an
 * `audit_record` whose `hash` is `sha256(prev_hash + JCS(record))` (hex, the
 * two strings concatenated as UTF-8), then one closing `chain_proof`.
 */
export const AuditExportLineSchema = v.variant("kind", [
  v.object({
    kind: v.literal("audit_record"),
    seq: v.number(),
    prev_hash: v.string(),
    hash: v.string(),
    /** The hashed body exactly as chained. */
    record: v.record(v.string(), v.unknown()),
  }),
  v.object({
    kind: v.literal("chain_proof"),
    head_seq: v.number(),
    head_hash: v.nullable(v.string()),
    verified: v.boolean(),
    columns_checked: v.boolean(),
    checked: v.number(),
    failure: v.nullable(ChainFailureSchema),
    exported: v.number(),
    filters: v.record(v.string(), v.unknown()),
  }),
]);

export const AuditVerifyQuerySchema = v.strictObject({ evidence: booleanText });

const EvidenceFailureSchema = v.object({
  ok: v.literal(false),
  evidence_id: v.nullable(v.string()),
  uri: v.string(),
  reason: v.string(),
  expected_sha256: v.string(),
  actual_sha256: v.nullable(v.string()),
  message: v.string(),
  audit_seq: v.number(),
  event_id: v.string(),
});

export const AuditVerificationSchema = v.object({
  /** The chain and every blob (when asked) check out. */
  ok: v.boolean(),
  chain: v.object({
    ok: v.boolean(),
    checked: v.number(),
    head: v.nullable(v.object({ seq: v.number(), hash: v.string() })),
    /** The first record at which the chain stops proving itself. */
    failure: v.nullable(ChainFailureSchema),
  }),
  /** The chain's end against the events stream (`behind` > 0: the projector lags, or newest records are gone). */
  tail: v.object({ audit_event_seq: v.nullable(v.number()), stream_last_seq: v.number(), behind: v.number() }),
  /** With `evidence=true`: every blob an `evidence.stored` record names, against its recorded sha256. */
  evidence: v.nullable(v.object({ checked: v.number(), failures: v.array(EvidenceFailureSchema) })),
});

export const AsOfQuerySchema = v.strictObject({ at: timestamp });

const asOf = <S extends v.GenericSchema>(aggregate: "plan" | "execution", state: S) =>
  v.object({
    aggregate_type: v.literal(aggregate),
    aggregate_id: v.string(),
    /** The moment asked for, normalized to UTC. */
    as_of: v.string(),
    /** Stream sequence of the last event folded. */
    last_seq: v.number(),
    /** Events folded. */
    events: v.number(),
    /** As the read model held it then (same shape as the current read). */
    state,
  });

export const PlanAsOfSchema = asOf("plan", PlanResponseSchema);
export const ExecutionAsOfSchema = asOf("execution", ExecutionResponseSchema);

export const ExplainQuerySchema = v.strictObject({
  /** Also read every evidence blob and check it against its digest (slower). */
  verify_evidence: booleanText,
});

const EventRefSchema = v.object({
  event_id: v.string(),
  seq: v.number(),
  type: v.string(),
  occurred_at: v.string(),
  actor: ActorViewSchema,
  audit: v.nullable(v.object({ seq: v.number(), hash: v.string() })),
});

const EvidenceLinkSchema = v.object({
  evidence_id: v.string(),
  kind: v.nullable(v.string()),
  uri: v.nullable(v.string()),
  sha256: v.nullable(v.string()),
  size_bytes: v.nullable(v.number()),
  content_type: v.nullable(v.string()),
  redacted: v.nullable(v.boolean()),
  recorded_by: v.nullable(EventRefSchema),
  verified: v.optional(v.boolean()),
  /** Prompt, model answer (redacted before they were stored) and tool output; first 64 KiB. */
  content: v.optional(v.string()),
  integrity_error: v.optional(v.string()),
});

const ExecutionStorySchema = v.object({
  execution_id: v.string(),
  revision: v.nullable(v.number()),
  dry_run: v.boolean(),
  status: v.string(),
  requested: v.nullable(EventRefSchema),
  started: v.nullable(EventRefSchema),
  steps: v.array(
    v.object({
      step_id: v.string(),
      action_id: v.string(),
      status: v.string(),
      detail: v.nullable(v.string()),
      event: EventRefSchema,
    }),
  ),
  tool_calls: v.array(
    v.object({
      tool_call_id: v.string(),
      step_id: v.string(),
      action_id: v.string(),
      binary: v.string(),
      argv: v.array(v.string()),
      via: v.string(),
      dry_run: v.boolean(),
      status: v.nullable(v.string()),
      exit_code: v.nullable(v.number()),
      duration_ms: v.nullable(v.number()),
      stdout_sha256: v.nullable(v.string()),
      stderr_sha256: v.nullable(v.string()),
      error: v.nullable(v.string()),
      output: v.nullable(EvidenceLinkSchema),
      started: EventRefSchema,
      completed: v.nullable(EventRefSchema),
    }),
  ),
  verification: v.array(
    v.object({
      passed: v.boolean(),
      step_id: v.nullable(v.string()),
      checks: v.array(
        v.object({
          description: v.string(),
          passed: v.boolean(),
          detail: v.nullable(v.string()),
          evidence: v.nullable(EvidenceLinkSchema),
        }),
      ),
      event: EventRefSchema,
    }),
  ),
  /** Each analysis the execution paused on for a person's verdict, with the verdict given (null while none is). */
  pauses: v.array(
    v.object({
      step_id: v.string(),
      check: v.string(),
      reason: v.string(),
      attempts: v.number(),
      deadline: v.string(),
      event: EventRefSchema,
      verdict: v.nullable(
        v.object({
          decision: v.picklist(["pass", "fail"]),
          reason: v.string(),
          requested_by: v.string(),
          event: EventRefSchema,
        }),
      ),
    }),
  ),
  rollback: v.array(
    v.object({
      phase: v.picklist(["started", "rolled_back"]),
      reason: v.string(),
      step_ids: v.array(v.string()),
      event: EventRefSchema,
    }),
  ),
  outcome: v.nullable(v.object({ status: v.string(), reason: v.nullable(v.string()), event: EventRefSchema })),
});

/** A change from intent to outcome; every item names its event (and audit record) and its evidence. */
export const ChangeExplanationSchema = v.object({
  requested_id: v.string(),
  plan_id: v.nullable(v.string()),
  correlation_ids: v.array(v.string()),
  intent: v.nullable(
    v.object({
      text: v.string(),
      source: v.string(),
      environment: v.nullable(v.string()),
      service: v.nullable(v.string()),
      signal_id: v.nullable(v.string()),
      requested_by: ActorViewSchema,
      event: EventRefSchema,
    }),
  ),
  planner: v.object({ prompt: v.array(EvidenceLinkSchema), model_response: v.array(EvidenceLinkSchema) }),
  revisions: v.array(
    v.object({
      revision: v.number(),
      summary: v.string(),
      planner: v.unknown(),
      steps: v.array(v.record(v.string(), v.unknown())),
      digest: v.nullable(v.string()),
      /** The service graph the revision was made from: digest of its nodes and edges, and their evidence. */
      context: v.nullable(
        v.object({
          digest: v.string(),
          scope: v.object({ environment: v.optional(v.string()) }),
          nodes: v.number(),
          edges: v.number(),
          ref: v.nullable(v.string()),
          evidence: v.nullable(EvidenceLinkSchema),
          evidence_matches: v.boolean(),
        }),
      ),
      evidence: v.array(EvidenceLinkSchema),
      event: EventRefSchema,
    }),
  ),
  planning_failures: v.array(v.object({ reasons: v.array(v.string()), event: EventRefSchema })),
  policy: v.array(
    v.object({
      revision: v.number(),
      decision: v.string(),
      tier: v.string(),
      reasons: v.array(v.string()),
      /** The policy bundle (and data) revision that decided. */
      policy_revision: v.string(),
      approvers_required: v.number(),
      expires_at: v.string(),
      steps: v.array(v.unknown()),
      event: EventRefSchema,
    }),
  ),
  approvals: v.array(
    v.object({
      approval_id: v.string(),
      revision: v.number(),
      status: v.picklist(["requested", "granted", "denied", "expired"]),
      approver: v.nullable(v.string()),
      via: v.nullable(v.string()),
      channel: v.nullable(v.string()),
      digest: v.nullable(v.string()),
      break_glass: v.boolean(),
      comment: v.nullable(v.string()),
      reason: v.nullable(v.string()),
      at: v.string(),
      actor: ActorViewSchema,
      event: EventRefSchema,
    }),
  ),
  executions: v.array(ExecutionStorySchema),
  evidence: v.array(EvidenceLinkSchema),
  timeline: v.array(EventRefSchema),
});

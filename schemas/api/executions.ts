/** `/v1/executions`: runs of approved plan revisions, and their tool output. */
import * as v from "valibot";
import { ActorViewSchema, CreatedFilterEntries, CursorSchema, LimitSchema, pageSchema } from "./common.ts";

/** An execution as served: the executions read model's row with its steps and tool calls. */
export const ExecutionResponseSchema = v.object({
  execution_id: v.string(),
  plan_id: v.nullable(v.string()),
  revision: v.nullable(v.number()),
  status: v.string(),
  dry_run: v.boolean(),
  workflow_id: v.nullable(v.string()),
  run_id: v.nullable(v.string()),
  reason: v.nullable(v.string()),
  actor_id: v.nullable(v.string()),
  requested_by: v.nullable(ActorViewSchema),
  correlation_id: v.nullable(v.string()),
  steps: v.array(v.record(v.string(), v.unknown())),
  verification: v.array(v.unknown()),
  tool_calls: v.array(v.record(v.string(), v.unknown())),
  version: v.number(),
  last_seq: v.number(),
  created_at: v.string(),
  started_at: v.nullable(v.string()),
  finished_at: v.nullable(v.string()),
  updated_at: v.string(),
});
export type ExecutionResponse = v.InferOutput<typeof ExecutionResponseSchema>;

export const ExecutionPageSchema = pageSchema(ExecutionResponseSchema);

/** As in the executions read model (projections/executions ExecutionViewStatus). */
export const ExecutionStatusSchema = v.picklist([
  "requested",
  "running",
  "paused",
  "verification_failed",
  "rolling_back",
  "rolled_back",
  "succeeded",
  "failed",
  "cancelled",
]);

export const ListExecutionsQuerySchema = v.strictObject({
  plan_id: v.optional(v.string()),
  status: v.optional(ExecutionStatusSchema),
  ...CreatedFilterEntries,
  cursor: CursorSchema,
  limit: LimitSchema,
});

export const ExecutionIdParamsSchema = v.strictObject({
  id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,128}$/)),
});

/** `POST /v1/executions/{id}:cancel`: why the execution should stop (recorded, shown with the outcome). */
export const CancelExecutionRequestSchema = v.strictObject({
  reason: v.pipe(
    v.string("must be text"),
    v.regex(/\S/, "must say why the execution should stop"),
    v.maxLength(2000, "must be at most 2000 characters"),
  ),
});

/**
 * `POST /v1/executions/{id}:verdict`: a person's verdict on the analysis the execution paused on
 * (status `paused`): `pass` lets verification go on, `fail` fails it and rolls the change back.
 */
export const VerdictExecutionRequestSchema = v.strictObject({
  decision: v.picklist(
    ["pass", "fail"],
    'must be "pass" (verification goes on) or "fail" (verification fails and the change is rolled back)',
  ),
  reason: v.pipe(
    v.string("must be text"),
    v.regex(/\S/, "must say why the analysis passes or fails"),
    v.maxLength(2000, "must be at most 2000 characters"),
  ),
});

/** `Last-Event-ID` resumes the log stream after the last SSE `id:` received. */
export const LogStreamHeadersSchema = v.looseObject({
  "last-event-id": v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,15}$/, "must be the last id: value this stream sent, or be omitted")),
  ),
});

/** One SSE `data:` of `GET /v1/executions/{id}/logs`; the SSE `id:` is the output stream sequence. */
export const LogChunkSchema = v.object({
  tool_call_id: v.string(),
  seq: v.number(),
  stream: v.picklist(["stdout", "stderr"]),
  text: v.string(),
});

/** A threshold a measurement is judged against: `value <op> threshold` (e.g. `< 0.05`). */
export const ThresholdSchema = v.object({
  op: v.picklist(["<", "<=", ">", ">=", "==", "!="]),
  value: v.number(),
});

/** One measurement of a verification analysis (`execution.measured`). */
export const MeasurementSchema = v.object({
  attempt: v.number(),
  /** Null when there was no value to read (empty, NaN, a query error): inconclusive. */
  value: v.nullable(v.number()),
  outcome: v.picklist(["pass", "fail", "inconclusive"]),
  reason: v.string(),
  measured_at: v.string(),
  evidence_id: v.nullable(v.string()),
});

/**
 * One query of one step measured over its attempts, with the conditions it is judged by (as the
 * plan wrote them) and, where a condition is one comparison of the value with a number (or with a
 * number in the step's input), that threshold, so that a chart can draw it.
 */
export const MeasurementSeriesSchema = v.object({
  step_id: v.string(),
  provider: v.picklist(["prometheus", "tempo", "kubectl"]),
  query: v.string(),
  /** The step's verification description, when the plan gave one. */
  description: v.nullable(v.string()),
  success_condition: v.nullable(v.string()),
  failure_condition: v.nullable(v.string()),
  success_threshold: v.nullable(ThresholdSchema),
  failure_threshold: v.nullable(ThresholdSchema),
  measurements: v.array(MeasurementSchema),
});

export const ExecutionMeasurementsSchema = v.object({
  execution_id: v.string(),
  plan_id: v.nullable(v.string()),
  revision: v.nullable(v.number()),
  series: v.array(MeasurementSeriesSchema),
});
export type ExecutionMeasurementsResponse = v.InferOutput<typeof ExecutionMeasurementsSchema>;

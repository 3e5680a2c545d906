/**
 * `GET /v1/executions/{id}/measurements`: an execution's verification measurements as series (one
 * per step and query, in attempt order) with the conditions they are judged by and, where a
 * condition is a single comparison of the value with a number (a literal, or a number in the step's
 * input), that number as a threshold a chart can draw. Conditions are parsed by lib/verification,
 * the same parser the workflow judges with; anything more (`&&`, `||`, strings) has no threshold.
 */
import type { StepVerification } from "../../events/index.ts";
import { type Condition, parseCondition } from "../../lib/verification/index.ts";
import type { ExecutionMeasurements, MeasurementRow } from "../../projections/executions/index.ts";
import type { ExecutionMeasurementsResponse } from "../../schemas/api/index.ts";

type Series = ExecutionMeasurementsResponse["series"][number];
type Threshold = NonNullable<Series["success_threshold"]>;
type Op = Threshold["op"];

const FLIPPED: Record<Op, Op> = { "<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!=" };

type Operand = Extract<Condition, { kind: "compare" }>["left"];

/** A number an operand stands for (a literal, or a field of the step's input); null for anything else. */
function numberOf(operand: Operand, input: unknown): number | null {
  if (operand.kind === "literal") return typeof operand.value === "number" ? operand.value : null;
  if (operand.kind !== "input") return null;
  let node: unknown = input;
  for (const key of operand.path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, key)) return null;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === "number" && Number.isFinite(node) ? node : null;
}

/** `result <op> N` (or `N <op> result`) as a threshold; null for any other condition. */
export function thresholdOf(text: string | null | undefined, input: unknown): Threshold | null {
  if (!text) return null;
  const parsed = parseCondition(text);
  if (!parsed.ok || parsed.condition.kind !== "compare") return null;
  const { op, left, right } = parsed.condition;
  if (left.kind === "result" && right.kind !== "result") {
    const value = numberOf(right, input);
    return value === null ? null : { op, value };
  }
  if (right.kind === "result" && left.kind !== "result") {
    const value = numberOf(left, input);
    return value === null ? null : { op: FLIPPED[op], value };
  }
  return null;
}

function verificationOf(raw: unknown): StepVerification | null {
  return typeof raw === "object" && raw !== null ? (raw as StepVerification) : null;
}

/** The measurements grouped into series, each with its step's conditions and thresholds. */
export function measurementsResponse(data: ExecutionMeasurements): ExecutionMeasurementsResponse {
  const groups = new Map<string, MeasurementRow[]>();
  for (const m of data.measurements) {
    const key = JSON.stringify([m.step_id, m.provider, m.query]);
    const list = groups.get(key);
    if (list) list.push(m);
    else groups.set(key, [m]);
  }
  const order = new Map(data.steps.map((s, i) => [s.step_id, i]));
  const series = [...groups.values()].map((rows): Series => {
    const first = rows[0] as MeasurementRow;
    const step = data.steps.find((s) => s.step_id === first.step_id);
    const verification = verificationOf(step?.verification);
    // The analysis these rows measured: the step's own, when its provider and query are these (a
    // kubectl analysis measures the verification's read, recorded as "<read action> <query>").
    const own = verification?.analysis;
    const measured =
      own && own.provider === "kubectl" && verification?.action_id
        ? `${verification.action_id} ${own.query}`.trim()
        : own?.query;
    const analysis = own?.provider === first.provider && measured === first.query ? own : null;
    const success = analysis?.success_condition ?? null;
    const failure = analysis?.failure_condition ?? null;
    return {
      step_id: first.step_id,
      provider: first.provider,
      query: first.query,
      description: verification?.description ?? null,
      success_condition: success,
      failure_condition: failure,
      success_threshold: thresholdOf(success, step?.input),
      failure_threshold: thresholdOf(failure, step?.input),
      measurements: [...rows]
        .sort((a, b) => a.attempt - b.attempt || a.measured_at.localeCompare(b.measured_at))
        .map((m) => ({
          attempt: m.attempt,
          value: m.value,
          outcome: m.outcome,
          reason: m.reason,
          measured_at: m.measured_at,
          evidence_id: m.evidence_id,
        })),
    };
  });
  series.sort(
    (a, b) =>
      (order.get(a.step_id) ?? Number.MAX_SAFE_INTEGER) - (order.get(b.step_id) ?? Number.MAX_SAFE_INTEGER) ||
      a.step_id.localeCompare(b.step_id) ||
      a.query.localeCompare(b.query),
  );
  return { execution_id: data.execution_id, plan_id: data.plan_id, revision: data.revision, series };
}

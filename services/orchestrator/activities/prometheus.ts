/**
 * `QueryPrometheusActivity`: one measurement of a verification analysis
 * against Prometheus (`connectors.prometheus.url`), an instant query whose
 * answer is stored as evidence and reduced to one value (lib/metrics). A
 * refused query, an unavailable server or an answer with nothing to measure
 * is a measurement without a value (the workflow judges it inconclusive),
 * not a failed activity: asking again is the analysis's job, on its interval.
 * Without a configured URL every measurement says so.
 */
import { WheelhouseError } from "../../../lib/errors/index.ts";
import { createPrometheusClient, oneSample, type PrometheusClient } from "../../../lib/metrics/prometheus.ts";
import type { MeasureInput, MeasurementResult, PrometheusActivities } from "../../../lib/orchestration/activities.ts";
import { answerOf, type MeasurementDeps, notConfigured, storeMeasurementEvidence } from "./measurement.ts";

export interface PrometheusActivityDeps extends MeasurementDeps {
  /** `connectors.prometheus.url`; unset: not configured. */
  readonly url?: string | undefined;
  readonly timeoutMs?: number | undefined;
}

export function createPrometheusActivities(deps: PrometheusActivityDeps): PrometheusActivities {
  const client = deps.url ? createPrometheusClient({ url: deps.url, timeoutMs: deps.timeoutMs }) : null;
  return {
    /** One instant query, its answer kept as evidence; the value, or null with the reason. */
    QueryPrometheusActivity: (input: MeasureInput): Promise<MeasurementResult> => queryPrometheus(deps, client, input),
  };
}

export type { PrometheusActivities } from "../../../lib/orchestration/activities.ts";

async function queryPrometheus(
  deps: MeasurementDeps,
  client: PrometheusClient | null,
  input: MeasureInput,
): Promise<MeasurementResult> {
  const at = deps.now();
  const measured_at = at.toISOString();
  if (client === null) {
    return {
      value: null,
      detail: notConfigured("Prometheus", "connectors.prometheus.url"),
      measured_at,
      evidence_id: null,
    };
  }
  let value: number | null = null;
  let detail: string;
  let record: Record<string, unknown>;
  try {
    const answer = await client.query(input.query, { time: at });
    ({ value, detail } = oneSample(answer.result));
    if (answer.warnings.length > 0) detail = `${detail} (warnings: ${answer.warnings.join("; ")})`;
    record = { provider: "prometheus", url: client.url, time: measured_at, answer: answerOf(answer.raw) };
  } catch (error) {
    if (!(error instanceof WheelhouseError)) throw error;
    detail = error.fix ? `${error.message} (${error.fix})` : error.message;
    const raw = (error.extra as { raw?: string | null } | undefined)?.raw ?? null;
    record = {
      provider: "prometheus",
      url: client.url,
      time: measured_at,
      error: error.message,
      answer: answerOf(raw),
    };
  }
  const evidence_id = await storeMeasurementEvidence(deps, input, { ...record, value, detail });
  return { value, detail, measured_at, evidence_id };
}

/**
 * `QueryTempoActivity`: one measurement of a verification analysis against
 * Tempo's search API (`connectors.tempo.url`): the traces matching a TraceQL
 * query (or logfmt tags) in the last `window_seconds`, counted or their
 * slowest duration (lib/metrics/tempo.ts), the answer stored as evidence.
 * As for Prometheus, a refused search, an unavailable Tempo or a search of
 * nothing is a measurement without a value, not a failed activity; without a
 * configured URL every measurement says so.
 */
import { WheelhouseError } from "../../../lib/errors/index.ts";
import { createTempoClient, measureTraces, type TempoClient } from "../../../lib/metrics/tempo.ts";
import type { MeasurementResult, TempoActivities, TempoMeasureInput } from "../../../lib/orchestration/activities.ts";
import { answerOf, type MeasurementDeps, notConfigured, storeMeasurementEvidence } from "./measurement.ts";

export interface TempoActivityDeps extends MeasurementDeps {
  /** `connectors.tempo.url`; unset: not configured. */
  readonly url?: string | undefined;
  readonly timeoutMs?: number | undefined;
}

export function createTempoActivities(deps: TempoActivityDeps): TempoActivities {
  const client = deps.url ? createTempoClient({ url: deps.url, timeoutMs: deps.timeoutMs }) : null;
  return {
    /** One trace search, its answer kept as evidence; the value, or null with the reason. */
    QueryTempoActivity: (input: TempoMeasureInput): Promise<MeasurementResult> => queryTempo(deps, client, input),
  };
}

export type { TempoActivities } from "../../../lib/orchestration/activities.ts";

async function queryTempo(
  deps: MeasurementDeps,
  client: TempoClient | null,
  input: TempoMeasureInput,
): Promise<MeasurementResult> {
  const end = deps.now();
  const measured_at = end.toISOString();
  if (client === null) {
    return { value: null, detail: notConfigured("Tempo", "connectors.tempo.url"), measured_at, evidence_id: null };
  }
  const start = new Date(end.getTime() - input.window_seconds * 1000);
  const search = {
    ...(input.query.trim() === "" ? {} : { q: input.query }),
    ...(input.tags ? { tags: input.tags } : {}),
    start,
    end,
    limit: input.limit,
  };
  const asked = {
    provider: "tempo",
    url: client.url,
    start: start.toISOString(),
    end: measured_at,
    tags: input.tags,
    limit: input.limit,
  };
  let value: number | null = null;
  let detail: string;
  let record: Record<string, unknown>;
  try {
    const answer = await client.search(search);
    ({ value, detail } = measureTraces(answer, input.measure, input.limit));
    record = { ...asked, answer: answerOf(answer.raw) };
  } catch (error) {
    if (!(error instanceof WheelhouseError)) throw error;
    detail = error.fix ? `${error.message} (${error.fix})` : error.message;
    const raw = (error.extra as { raw?: string | null } | undefined)?.raw ?? null;
    record = { ...asked, error: error.message, answer: answerOf(raw) };
  }
  const evidence_id = await storeMeasurementEvidence(deps, input, { ...record, measure: input.measure, value, detail });
  return { value, detail, measured_at, evidence_id };
}

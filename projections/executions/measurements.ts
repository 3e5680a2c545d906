/**
 * The executions read model's measurements (`execution_measurements`): one row per
 * `execution.measured`, the verification analysis's value of one query at one attempt and how it
 * was judged, which the console charts against the step's thresholds. Insert-only: a measurement
 * recorded twice (a retried activity) keeps its first record, so a rebuild gives the same rows.
 */
import { createHash } from "node:crypto";
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { Statement, TableSpec } from "../../lib/db/sql.ts";
import { upsertStatement } from "../../lib/db/sql.ts";
import type { RecordedEventOf } from "../handlers.ts";
import type { MeasurementRow } from "./rows.ts";

export const measurementsTable: TableSpec<MeasurementRow> = {
  table: "execution_measurements",
  key: ["measurement_id"],
  columns: {
    measurement_id: "text",
    execution_id: "text",
    step_id: "text",
    provider: "text",
    query: "text",
    attempt: "int4",
    value: "float8",
    outcome: "text",
    reason: "text",
    measured_at: "timestamptz",
    evidence_id: "text",
    last_seq: "int8",
  },
};

/**
 * One measurement's key: execution, step, provider, query and attempt (the query as a digest, so
 * that a long query never makes the key too long for its index).
 */
export function measurementId(p: {
  execution_id: string;
  step_id: string;
  provider: string;
  query: string;
  attempt: number;
}): string {
  const query = createHash("sha256").update(`${p.provider}\n${p.query}`).digest("hex").slice(0, 16);
  return `${p.execution_id}/${p.step_id}/${query}/${p.attempt}`;
}

function isMeasured(event: AnyRecordedEvent): event is RecordedEventOf<"execution.measured"> {
  return event.type === "execution.measured";
}

/** The rows `events` record, the first record of each measurement only (pure). */
export function measurementRows(events: Iterable<AnyRecordedEvent>): MeasurementRow[] {
  const rows = new Map<string, MeasurementRow>();
  for (const event of events) {
    if (!isMeasured(event)) continue;
    const p = event.payload;
    const id = measurementId(p);
    if (rows.has(id)) continue;
    rows.set(id, {
      measurement_id: id,
      execution_id: p.execution_id,
      step_id: p.step_id,
      provider: p.provider,
      query: p.query,
      attempt: p.attempt,
      value: p.value,
      outcome: p.outcome,
      reason: p.reason,
      measured_at: p.measured_at,
      evidence_id: p.evidence_id ?? null,
      last_seq: event.seq,
    });
  }
  return [...rows.values()];
}

/** The statement inserting the measurements of a batch (none when it has none). */
export function measurementStatement(events: readonly AnyRecordedEvent[]): Statement | null {
  return upsertStatement(measurementsTable, measurementRows(events), "nothing");
}

/**
 * What the verification query activities (prometheus.ts, tempo.ts) share:
 * the rule that every measurement is evidence (their input and result are
 * in the contract with the workflows, lib/orchestration/activities.ts).
 * The answer as the provider sent it (or its error) is stored, redacted,
 * with its `evidence.stored` event on the execution, and the measurement
 * names it; the workflow records the judged measurement as
 * `execution.measured`. A query that fails is a measurement too: no value,
 * the reason, and the evidence of what the provider said. Only storing the
 * evidence can fail the activity (and then Temporal retries it).
 */
import { v7 as uuidv7 } from "uuid";
import type { EventStore } from "../../../lib/eventstore/index.ts";
import { type EvidenceMeta, type EvidenceStore, evidenceStoredEvent } from "../../../lib/evidence/index.ts";
import type { MeasureInput } from "../../../lib/orchestration/activities.ts";
import { createRedactor } from "../../../lib/redact/index.ts";
import { ORCHESTRATOR_ACTOR } from "./approval.ts";

export interface MeasurementDeps {
  readonly store: EventStore;
  readonly evidence: EvidenceStore;
  readonly now: () => Date;
}

/** Memoryless, as the tool output the router redacts: `[REDACTED:kind]`. */
const redactor = createRedactor([], { stable: false });

/**
 * Stores what a provider answered for one measurement and appends its `evidence.stored`. A retried
 * attempt stores a blob of its own (its answer may differ): each blob is recorded under its own id.
 */
export async function storeMeasurementEvidence(
  deps: MeasurementDeps,
  input: MeasureInput,
  record: Record<string, unknown>,
): Promise<string> {
  const meta: EvidenceMeta = {
    owner_type: "execution",
    owner_id: input.execution_id,
    kind: "verification",
    content_type: "application/json",
    redacted: true,
    evidence_id: uuidv7(),
  };
  const blob = JSON.stringify(
    redactor.redactValue({ step_id: input.step_id, attempt: input.attempt, query: input.query, ...record }),
  );
  const stored = await deps.evidence.storeEvidence(meta, blob);
  await deps.store.append(
    [
      evidenceStoredEvent(meta, stored, {
        actor: ORCHESTRATOR_ACTOR,
        correlation_id: input.correlation_id ?? input.execution_id,
      }),
    ],
    { idempotencyKey: `evidence.stored:${stored.evidence_id}` },
  );
  return stored.evidence_id;
}

/** A provider's answer as evidence: its JSON parsed, or its text as it came. */
export function answerOf(raw: string | null): unknown {
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** The reason a connector that is not configured cannot measure, with the fix. */
export function notConfigured(provider: "Prometheus" | "Tempo", field: string): string {
  return `${provider} is not configured (${field} is not set): set it to verify with ${provider.toLowerCase()}`;
}

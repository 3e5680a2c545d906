/**
 * The planner service: consumes `plan.requested` and `signal.received`,
 * plans, and appends `plan.proposed` or `plan.failed`.
 *
 * - A firing alert (`signal.received`, status firing) becomes an incident
 *   intent: a `plan.requested` with `source: "alert"` and the signal id, on a
 *   plan id derived from the signal id (so a redelivered signal cannot
 *   request twice); planning then happens on that request like any other.
 * - A request is planned once: the outcome is appended with the aggregate's
 *   version as `expectedVersion` and an idempotency key from the request
 *   event, so a redelivered request finds the outcome (or loses the race)
 *   and never produces a second proposal.
 * - The redacted prompt and model answers are stored as evidence; their
 *   `evidence.stored` events go in the same atomic batch as the outcome, and
 *   `plan.proposed` lists their ids.
 * - So is the context snapshot the plan was made from (the service graph's
 *   nodes and edges it read); `plan.proposed.context` names its digest, so
 *   policy and approvers judge the state the planner saw.
 */
import type { Logger } from "pino";
import { v5 as uuidv5 } from "uuid";
import type { Actor, AnyEvent, AnyRecordedEvent, EventPayload } from "../../events/index.ts";
import { newEvent, storableValue } from "../../events/index.ts";
import { decide, envelopeDrafts, type PlanState, planDecider, planRevisionDigest } from "../../lib/domain/index.ts";
import { ConflictError } from "../../lib/errors/index.ts";
import { aggregateStream, type EventStore, handleCommand } from "../../lib/eventstore/index.ts";
import type { EvidenceMeta, StoredEvidence } from "../../lib/evidence/index.ts";
import { evidenceStoredEvent } from "../../lib/evidence/index.ts";
import {
  type ContextSnapshot,
  type Planner,
  PlanningFailedError,
  type PlanResult,
  type PlanTranscript,
  snapshotBody,
  snapshotRef,
} from "../../lib/planner/index.ts";
import { createRedactor } from "../../lib/redact/index.ts";

/** Namespace for plan ids derived from signal ids (UUIDv5). */
const SIGNAL_PLAN_NAMESPACE = "5b0f7c5e-8d0b-4c36-9a53-6f1f4c1d2e77";

/**
 * The planner's identity, and the requester of every plan an alert raises, whose rights policy
 * checks: an operator, so that an alert's reads are allowed and its remedy (a write, up to T2: the
 * ceiling of service actors in the policy data) goes before an approver. Without a role every
 * alert's plan was denied, its reads included.
 */
export const PLANNER_ACTOR: Actor = { kind: "service", id: "planner", roles: ["operator"] };

export interface PlannerServiceDeps {
  readonly store: Pick<EventStore, "append" | "readAggregate" | "consume">;
  readonly planner: Planner;
  /** Stores a redacted blob (the audit area's evidence store); without it no evidence is kept. */
  readonly storeEvidence?: ((meta: EvidenceMeta, blob: string) => Promise<StoredEvidence>) | undefined;
  readonly logger?: Logger | undefined;
  readonly actor?: Actor | undefined;
  /** Durable consumer name; several planner processes with the same name share the work. */
  readonly durable?: string | undefined;
  /** Configured `llm.redact_patterns`, for the alert text written into `plan.requested`. */
  readonly redactPatterns?: readonly string[] | undefined;
  readonly maxDeliver?: number | undefined;
  readonly backoffMs?: readonly number[] | undefined;
}

export interface PlannerService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Handles one event (what the consumer calls); exposed for tests and embedding. */
  handle(event: AnyRecordedEvent): Promise<void>;
}

type Recorded<T extends AnyRecordedEvent["type"]> = Extract<AnyRecordedEvent, { type: T }>;

/** What planning one request yields: the events to record and how the planner answered. */
interface PlanningOutcome {
  readonly events: readonly AnyEvent[];
  readonly result: PlanResult | null;
  readonly failure: PlanningFailedError | null;
}

/** The plan id a signal's incident plan gets: stable, so the same signal cannot request twice. */
export function planIdForSignal(signalId: string): string {
  return uuidv5(`signal:${signalId}`, SIGNAL_PLAN_NAMESPACE);
}

/** The intent text for a firing alert. It is untrusted alert text, redacted, and the planner treats it so. */
export function alertIntent(signal: EventPayload<"signal.received">): string {
  const labels = signal.labels ?? {};
  const name = labels.alertname ?? signal.kind;
  const where = [
    signal.service ?? labels.service ?? labels.app ?? labels.job,
    signal.environment ?? labels.env ?? labels.environment,
  ]
    .filter(Boolean)
    .join(" in ");
  const description = signal.annotations?.description ?? "";
  return `Investigate alert ${name}${where ? ` on ${where}` : ""}: ${signal.summary}${description && description !== signal.summary ? ` (${description})` : ""}`.slice(
    0,
    4000,
  );
}

export function createPlannerService(deps: PlannerServiceDeps): PlannerService {
  const { store, planner, logger } = deps;
  const actor = deps.actor ?? PLANNER_ACTOR;
  let consumption: { stop(): Promise<void> } | null = null;

  /** A plan past `requested` has had its outcome (`plan.proposed` or `plan.failed`) recorded. */
  const planned = (state: PlanState) => state.status !== "empty" && state.status !== "requested";

  async function onSignal(event: Recorded<"signal.received">): Promise<void> {
    const signal = event.payload;
    if (signal.status !== "firing") return;
    const planId = planIdForSignal(signal.signal_id);
    const redactor = createRedactor(deps.redactPatterns ?? []);
    const environment = signal.environment ?? signal.labels?.env ?? signal.labels?.environment;
    const now = new Date();
    const request = {
      type: "RequestPlan",
      planId,
      intent: redactor.redact(alertIntent(signal)),
      source: "alert",
      signalId: signal.signal_id,
      environment: environment || undefined,
      service: signal.service || undefined,
      actor,
      now,
    } as const;
    try {
      // The plan id is derived from the signal: new unless this signal was delivered before.
      await handleCommand(
        store,
        planDecider,
        planId,
        (state) =>
          envelopeDrafts(decide(request, state), planId, {
            actor,
            correlation_id: event.correlation_id,
            causation_id: event.id,
            occurred_at: now.toISOString(),
          }),
        { newAggregate: true, idempotencyKey: `plan.requested:signal:${signal.signal_id}` },
      );
      logger?.info({ plan_id: planId, signal_id: signal.signal_id }, "alert became a plan request");
    } catch (error) {
      if (error instanceof ConflictError) return; // requested already (a redelivery)
      throw error;
    }
  }

  async function onPlanRequested(event: Recorded<"plan.requested">): Promise<void> {
    const planId = event.payload.plan_id;
    const attempt: { outcome?: PlanningOutcome } = {};
    try {
      // Guarded on the version read and keyed by the request: a redelivered request finds the
      // outcome already recorded (or loses the race to it) and never yields a second proposal.
      await handleCommand(
        store,
        planDecider,
        planId,
        async (state) => {
          if (planned(state)) return [];
          attempt.outcome = await planRequest(event);
          return attempt.outcome.events;
        },
        { idempotencyKey: `planned:${event.id}` },
      );
    } catch (error) {
      if (error instanceof ConflictError && planned((await aggregateStream(store, planDecider, planId)).state)) return;
      throw error;
    }
    const { outcome } = attempt;
    if (!outcome) return;
    logger?.info(
      {
        plan_id: planId,
        outcome: outcome.events.at(-1)?.type,
        planner: outcome.result?.plan.planner ?? outcome.failure?.planner,
        fallback: outcome.result?.fallbackReason,
      },
      outcome.result ? `plan proposed (${outcome.result.plan.steps.length} steps)` : "planning failed",
    );
  }

  /** Plans one request: the outcome (`plan.proposed` or `plan.failed`) after the evidence of how it was reached. */
  async function planRequest(event: Recorded<"plan.requested">): Promise<PlanningOutcome> {
    const request = event.payload;
    const planId = request.plan_id;
    let alert: EventPayload<"signal.received"> | undefined;
    if (request.signal_id) {
      const signalEvents = await store.readAggregate("signal", request.signal_id);
      const received = signalEvents.find((e): e is Recorded<"signal.received"> => e.type === "signal.received");
      alert = received?.payload;
    }

    const meta = { actor, correlation_id: event.correlation_id, causation_id: event.id };
    let result: PlanResult | null = null;
    let failure: PlanningFailedError | null = null;
    try {
      result = await planner.plan({
        planId,
        intent: request.intent,
        source: request.source,
        environment: request.environment,
        service: request.service,
        signal: alert,
      });
    } catch (error) {
      if (!(error instanceof PlanningFailedError)) throw error;
      failure = error;
    }

    const transcript = result?.transcript ?? failure?.transcript;
    const evidence = transcript ? await storeTranscript(planId, event.id, transcript, meta) : [];
    const snapshot = result?.context ? await storeSnapshot(planId, event.id, result.context, meta) : null;
    if (snapshot?.event) evidence.push(snapshot.event);
    const outcome: AnyEvent = result
      ? newEvent(
          "plan.proposed",
          planId,
          {
            plan_id: planId,
            revision: result.plan.revision,
            summary: result.plan.summary,
            steps: [...result.plan.steps],
            planner: result.plan.planner,
            evidence_ids: evidence.map((e) => e.payload.evidence_id),
            // What approvals bind to; of the steps as stored (newEvent makes strings storable).
            digest: planRevisionDigest(storableValue(result.plan.steps)),
            ...(snapshot ? { context: snapshot.ref } : {}),
          },
          meta,
        )
      : newEvent(
          "plan.failed",
          planId,
          {
            plan_id: planId,
            reasons: [...(failure as PlanningFailedError).reasons],
            planner: (failure as PlanningFailedError).planner,
          },
          meta,
        );
    return { events: [...evidence, outcome], result, failure };
  }

  async function storeTranscript(
    planId: string,
    requestEventId: string,
    transcript: PlanTranscript,
    meta: { actor: Actor; correlation_id: string; causation_id: string },
  ) {
    if (!deps.storeEvidence) return [];
    const blobs: { kind: "prompt" | "model_response"; body: unknown }[] = [
      {
        kind: "prompt",
        body: { system: transcript.system, messages: transcript.messages, redactions: transcript.redactions },
      },
      { kind: "model_response", body: { responses: transcript.responses } },
    ];
    const events = [];
    for (const blob of blobs) {
      const evidenceMeta: EvidenceMeta = {
        owner_type: "plan",
        owner_id: planId,
        kind: blob.kind,
        content_type: "application/json",
        redacted: true,
        // Derived from the request event: a redelivery rewrites the same ids rather than adding orphans.
        evidence_id: `${requestEventId}-${blob.kind === "prompt" ? "prompt" : "response"}`.slice(0, 128),
      };
      const stored = await deps.storeEvidence(evidenceMeta, `${JSON.stringify(blob.body, null, 2)}\n`);
      events.push(evidenceStoredEvent(evidenceMeta, stored, meta));
    }
    return events;
  }

  /** Keeps the snapshot as evidence (its canonical JSON, whose sha256 is its digest) and names it for `plan.proposed`. */
  async function storeSnapshot(
    planId: string,
    requestEventId: string,
    snapshot: ContextSnapshot,
    meta: { actor: Actor; correlation_id: string; causation_id: string },
  ) {
    if (!deps.storeEvidence) return { ref: snapshotRef(snapshot), event: null };
    const evidenceMeta: EvidenceMeta = {
      owner_type: "plan",
      owner_id: planId,
      kind: "context_snapshot",
      content_type: "application/json",
      redacted: true,
      evidence_id: `${requestEventId}-context`.slice(0, 128),
    };
    // The graph holds no secret values by design; should a detector still match, the stored blob is
    // the redacted one and its sha256 then differs from the digest, which explain shows.
    const body = snapshotBody(createRedactor(deps.redactPatterns ?? []).redactValue(snapshot));
    const stored = await deps.storeEvidence(evidenceMeta, body);
    return {
      ref: snapshotRef(snapshot, evidenceMeta.evidence_id),
      event: evidenceStoredEvent(evidenceMeta, stored, meta),
    };
  }

  async function handle(event: AnyRecordedEvent): Promise<void> {
    switch (event.type) {
      case "plan.requested":
        return onPlanRequested(event);
      case "signal.received":
        return onSignal(event);
      default:
        return;
    }
  }

  return {
    handle,
    async start() {
      consumption ??= await store.consume({
        durable: deps.durable ?? "planner",
        filterTypes: ["plan.requested", "signal.received"],
        handler: handle,
        ...(deps.maxDeliver === undefined ? {} : { maxDeliver: deps.maxDeliver }),
        ...(deps.backoffMs === undefined ? {} : { backoffMs: deps.backoffMs }),
      });
    },
    async stop() {
      await consumption?.stop();
      consumption = null;
    },
  };
}

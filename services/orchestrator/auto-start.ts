/**
 * Stage 2 for real: a plan revision whose writes policy allowed without a
 * person (`policy.decided` with decision `allow` on a plan with a write, i.e.
 * its tier above T0: at stage 2 low-risk writes in environments that
 * auto-approve) is started by the orchestrator, no `POST :execute` needed.
 *
 * It goes through the plan decider like a person's request
 * (`RequestExecution`: the revision is still the plan's, the decision still
 * allows it and has not expired) and records `execution.requested` with
 * `started_by: {kind: "policy", decision_revision}` on the execution id a
 * person's request would get (`executionIdOf`), appended only if that
 * execution does not exist yet: a redelivery, a second replica or a person
 * pressing Execute meanwhile leave exactly one. The starter then runs it as
 * any other. Read-only plans (T0, allowed at every stage) are not started:
 * someone asked to look, and looks when they choose.
 */
import { v5 as uuidv5 } from "uuid";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { decide, envelopeDrafts, executionIdOf, planDecider } from "../../lib/domain/index.ts";
import { ConflictError, WheelhouseError } from "../../lib/errors/index.ts";
import { type Consumption, type EventStore, handleCommand } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { ORCHESTRATOR_ACTOR } from "./activities/approval.ts";

/** Namespace of the ids of the `execution.requested` policy starts (uuid v5 of the execution id). */
const AUTO_START_ID_NAMESPACE = "9a4c1e7b-2f58-4d36-8b0e-5c7d3a1f6e92";

type PolicyDecided = Extract<AnyRecordedEvent, { type: "policy.decided" }>;

export interface AutoStarterDeps {
  readonly store: EventStore;
  readonly logger: Logger;
  readonly now?: (() => Date) | undefined;
  /** Durable consumer name; default `orchestrator-auto-start`. */
  readonly durable?: string | undefined;
}

export interface AutoStarter {
  /**
   * Starts the execution one decision allows without a person: `started`, `already` (it exists:
   * a person or an earlier delivery started it), `not_automatic` (the decision needs a person, or
   * the plan only reads) or `refused` (the plan moved on, or the decision expired).
   */
  startFor(event: PolicyDecided): Promise<"started" | "already" | "not_automatic" | "refused">;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Whether policy let every step of the revision run without a person, and it changes something. */
export function runsAutomatically(decision: PolicyDecided["payload"]): boolean {
  return decision.decision === "allow" && decision.tier !== "T0";
}

export function createAutoStarter(deps: AutoStarterDeps): AutoStarter {
  const { store, logger } = deps;
  const now = deps.now ?? (() => new Date());
  let consumption: Consumption | null = null;

  async function startFor(event: PolicyDecided): Promise<"started" | "already" | "not_automatic" | "refused"> {
    const p = event.payload;
    if (!runsAutomatically(p)) return "not_automatic";
    const executionId = executionIdOf(p.plan_id, p.revision);
    const at = now();
    let decided = false;
    try {
      const { appended } = await handleCommand(
        store,
        planDecider,
        p.plan_id,
        (state) => {
          const drafts = decide(
            {
              type: "RequestExecution",
              planId: p.plan_id,
              revision: p.revision,
              executionId,
              startedBy: { kind: "policy", decision_revision: p.policy_revision },
              actor: ORCHESTRATOR_ACTOR,
              now: at,
            },
            state,
          );
          decided = true;
          return envelopeDrafts(drafts, executionId, {
            actor: ORCHESTRATOR_ACTOR,
            correlation_id: event.correlation_id,
            causation_id: event.id,
            occurred_at: at.toISOString(),
            id: uuidv5(executionId, AUTO_START_ID_NAMESPACE),
          });
        },
        // Recorded on the execution, which must not exist yet: one execution per revision, whoever starts it.
        { expectedVersion: "none", idempotencyKey: `auto-start:${executionId}` },
      );
      logger.info(
        { plan_id: p.plan_id, revision: p.revision, execution_id: executionId, duplicate: appended?.duplicate },
        "execution started by policy",
      );
      return appended?.duplicate ? "already" : "started";
    } catch (error) {
      if (decided && error instanceof ConflictError) {
        logger.info({ execution_id: executionId }, "execution already requested; policy starts nothing");
        return "already";
      }
      // The decider's refusal (a newer revision, an expired decision) will not change on a redelivery.
      if (!decided && error instanceof WheelhouseError && error.status < 500) {
        logger.info({ plan_id: p.plan_id, revision: p.revision, reason: error.message }, "not started by policy");
        return "refused";
      }
      throw error;
    }
  }

  return {
    startFor,
    async start() {
      consumption = await store.consume({
        durable: deps.durable ?? "orchestrator-auto-start",
        filterTypes: ["policy.decided"],
        handler: async (event) => {
          if (event.type === "policy.decided") await startFor(event);
        },
      });
    },
    async stop() {
      await consumption?.stop();
      consumption = null;
    },
  };
}

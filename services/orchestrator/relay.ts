/**
 * Relays a person's requests to a running execution, appended by the gateway, to the execution's
 * workflow as its signals: `execution.cancel_requested` (`POST /v1/executions/{id}:cancel`) as
 * `cancel`, which stops the workflow before its next step (it records `execution.cancelled`), and
 * `execution.verdict_requested` (`POST /v1/executions/{id}:verdict`) as `verdict`, which decides the
 * analysis it has paused on. One durable consumer, next to the starter.
 *
 * A cancel can arrive before the starter has started the workflow: the signal then finds no
 * workflow and the event is handled again (the consumer calls a handler failing with
 * `UnavailableError` again in place) until it has started. One that has already finished needs
 * nothing. Signalling twice is harmless: the workflow keeps the first request (and the first verdict
 * of a pause; one naming a step that is no longer paused is ignored).
 */
import { type Client, WorkflowNotFoundError } from "@temporalio/client";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { UnavailableError } from "../../lib/errors/index.ts";
import type { Consumption, EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { cancelSignal } from "../../lib/orchestration/workflow.ts";
import { verdictSignal } from "./workflows/verify.ts";

const FINAL = new Set(["execution.succeeded", "execution.failed", "execution.cancelled"]);

/** The requests relayed, each to its signal. */
export const RELAYED_TYPES = ["execution.cancel_requested", "execution.verdict_requested"] as const;

export type ExecutionRequest = Extract<AnyRecordedEvent, { type: (typeof RELAYED_TYPES)[number] }>;

export interface RequestRelayDeps {
  readonly store: EventStore;
  readonly client: Client;
  readonly logger: Logger;
  /**
   * Durable consumer name; default `orchestrator-cancel`, the name it had when it relayed cancels only,
   * so a deployment that upgrades goes on from where it stood rather than reading every request again.
   */
  readonly durable?: string | undefined;
  /** Redelivery backoff; the event store's default otherwise. */
  readonly backoffMs?: readonly number[] | undefined;
}

export interface RequestRelay {
  /** Signals the workflow of one request: `signalled`, or `finished` when it had already ended. */
  relay(event: ExecutionRequest): Promise<"signalled" | "finished">;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createRequestRelay(deps: RequestRelayDeps): RequestRelay {
  const { store, client, logger } = deps;
  let consumption: Consumption | null = null;

  /** Sends the request's signal; false when there is no running workflow to send it to. */
  async function signal(event: ExecutionRequest): Promise<boolean> {
    const handle = client.workflow.getHandle(event.payload.execution_id);
    try {
      switch (event.type) {
        case "execution.cancel_requested": {
          const { reason, requested_by } = event.payload;
          await handle.signal(cancelSignal, { reason, requested_by });
          break;
        }
        case "execution.verdict_requested": {
          const { decision, reason, requested_by, step_id } = event.payload;
          await handle.signal(verdictSignal, { decision, reason, by: requested_by, step_id });
          break;
        }
        default: {
          const unhandled: never = event;
          throw new Error(`no signal for ${(unhandled as AnyRecordedEvent).type}`);
        }
      }
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  async function relay(event: ExecutionRequest): Promise<"signalled" | "finished"> {
    const { execution_id, requested_by } = event.payload;
    const what = event.type === "execution.cancel_requested" ? "cancel" : "verdict";
    if (await signal(event)) {
      logger.info({ execution_id, requested_by }, `${what} relayed to the execution's workflow`);
      return "signalled";
    }
    // No running workflow: it has ended (nothing to act on), or the starter has not started it yet.
    const events = await store.readAggregate("execution", execution_id, { consistent: true });
    if (events.some((e) => FINAL.has(e.type))) {
      logger.info({ execution_id }, `execution already ended; the ${what} has nothing to act on`);
      return "finished";
    }
    throw new UnavailableError(`execution ${execution_id} has no running workflow yet; the ${what} waits for it`, {
      fix: "the orchestrator's starter starts it from execution.requested; check that it runs",
    });
  }

  return {
    relay,
    async start() {
      consumption = await store.consume({
        durable: deps.durable ?? "orchestrator-cancel",
        filterTypes: [...RELAYED_TYPES],
        ...(deps.backoffMs ? { backoffMs: deps.backoffMs } : {}),
        handler: async (event) => {
          if (event.type === "execution.cancel_requested" || event.type === "execution.verdict_requested") {
            await relay(event);
          }
        },
      });
    },
    async stop() {
      await consumption?.stop();
      consumption = null;
    },
  };
}

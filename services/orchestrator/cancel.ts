/**
 * Relays `execution.cancel_requested` (appended by the gateway's
 * `POST /v1/executions/{id}:cancel`) to the execution's workflow as its
 * `cancel` signal; the workflow stops before its next step and records
 * `execution.cancelled`. A durable consumer of its own, next to the starter.
 *
 * A request can arrive before the starter has started the workflow: the
 * signal then finds no workflow and the event is handled again (the
 * consumer calls a handler failing with `UnavailableError` again in place)
 * until it has started. One that has already finished needs nothing.
 * Signalling twice is harmless: the workflow keeps the first request.
 */
import { type Client, WorkflowNotFoundError } from "@temporalio/client";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { UnavailableError } from "../../lib/errors/index.ts";
import type { Consumption, EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { cancelSignal } from "./workflows/contract.ts";

const FINAL = new Set(["execution.succeeded", "execution.failed", "execution.cancelled"]);

export interface CancelRelayDeps {
  readonly store: EventStore;
  readonly client: Client;
  readonly logger: Logger;
  /** Durable consumer name; default `orchestrator-cancel`. */
  readonly durable?: string | undefined;
  /** Redelivery backoff; the event store's default otherwise. */
  readonly backoffMs?: readonly number[] | undefined;
}

export interface CancelRelay {
  /** Signals the workflow of one request: `signalled`, or `finished` when it had already ended. */
  relay(event: Extract<AnyRecordedEvent, { type: "execution.cancel_requested" }>): Promise<"signalled" | "finished">;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createCancelRelay(deps: CancelRelayDeps): CancelRelay {
  const { store, client, logger } = deps;
  let consumption: Consumption | null = null;

  async function relay(
    event: Extract<AnyRecordedEvent, { type: "execution.cancel_requested" }>,
  ): Promise<"signalled" | "finished"> {
    const { execution_id, reason, requested_by } = event.payload;
    try {
      await client.workflow.getHandle(execution_id).signal(cancelSignal, { reason, requested_by });
      logger.info({ execution_id, requested_by }, "cancel relayed to the execution's workflow");
      return "signalled";
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    // No running workflow: it has ended (nothing to stop), or the starter has not started it yet.
    const events = await store.readAggregate("execution", execution_id, { consistent: true });
    if (events.some((e) => FINAL.has(e.type))) {
      logger.info({ execution_id }, "execution already ended; nothing to cancel");
      return "finished";
    }
    throw new UnavailableError(`execution ${execution_id} has no running workflow yet; the cancel waits for it`, {
      fix: "the orchestrator's starter starts it from execution.requested; check that it runs",
    });
  }

  return {
    relay,
    async start() {
      consumption = await store.consume({
        durable: deps.durable ?? "orchestrator-cancel",
        filterTypes: ["execution.cancel_requested"],
        ...(deps.backoffMs ? { backoffMs: deps.backoffMs } : {}),
        handler: async (event) => {
          if (event.type === "execution.cancel_requested") await relay(event);
        },
      });
    },
    async stop() {
      await consumption?.stop();
      consumption = null;
    },
  };
}

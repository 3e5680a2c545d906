/**
 * What the integration activities share: their dependencies, the text they
 * send away (scrubbed of secrets first, as everything leaving the process is),
 * and how a provider's refusal becomes a non-retryable failure while an
 * outage stays retryable.
 */

import { WheelhouseError } from "../../../../lib/errors/index.ts";
import type { EventStore } from "../../../../lib/eventstore/index.ts";
import type { IntegrationClients } from "../../../../lib/integrations/index.ts";
import type { Logger } from "../../../../lib/log/index.ts";
import { defaultScrub } from "../../../../lib/redact/index.ts";
import { refusal } from "../temporal.ts";

export interface IntegrationActivityDeps {
  readonly store: EventStore;
  readonly logger: Logger;
  /** The clients of the connectors that are on; a null one makes its activity answer null fields. */
  readonly clients: IntegrationClients;
  /** A person's link to a plan (`approvals.plan_url`), sent along with an incident. */
  readonly planUrl?: ((planId: string) => string) | undefined;
  readonly now?: (() => Date) | undefined;
}

export type ResolvedDeps = IntegrationActivityDeps & { readonly now: () => Date };

/** The error type of a provider's refusal (bad input, bad credentials, unknown repository): never retried. */
export const INTEGRATION_REJECTED = "IntegrationRejected";

/** Codes a retry cannot change. */
const REFUSALS = new Set(["validation_failed", "unauthenticated", "forbidden", "not_found"]);

/** Runs `call`; a provider's refusal leaves as a non-retryable failure, anything else as it came. */
export async function calling<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof WheelhouseError && REFUSALS.has(error.code)) throw refusal(INTEGRATION_REJECTED, error);
    throw error;
  }
}

/** Text sent to an outside service, with anything that looks like a secret replaced. */
export const outgoing = (text: string): string => defaultScrub(text);

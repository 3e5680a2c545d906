/** What the gateway needs from the outside, passed in by `createGateway(deps)`. */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import type { Authenticator, DevIssuer } from "../../lib/auth/index.ts";
import type { GatewayConfig } from "../../lib/config/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type { ComponentHealth } from "../../lib/runtime/index.ts";
import type { AuditApi } from "./audit.ts";
import type { ProjectorLagSample } from "./metrics.ts";
import type { ReadModels } from "./read-models.ts";

/** The webhook secrets, already resolved from their SecretRefs (`null`: that webhook is refused). */
export interface WebhookSecrets {
  readonly alertmanagerToken: string | null;
  /** `user:password` when Alertmanager sends basic auth instead of a bearer token. */
  readonly alertmanagerBasic?: string | null | undefined;
  readonly argocdSecret: string | null;
  readonly githubSecret: string | null;
  readonly gitlabToken: string | null;
  /** `approvals.linear.webhook_secret`: Linear's signing secret for `/v1/webhooks/linear`; unset refuses it. */
  readonly linearSecret?: string | null | undefined;
}

export interface GatewayDeps {
  readonly config: GatewayConfig;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly readModels: ReadModels;
  /** lib/audit's queries (`createAuditQueries`): the trail, its export and verification, as-of, explain. */
  readonly audit: AuditApi;
  /** `llm.redact_patterns`: extra secret patterns redacted from intents (the built-in detectors always apply). */
  readonly redactPatterns?: readonly string[] | undefined;
  /** The projector's lag (its `lag()`), exported on /metrics when given. */
  readonly projectorLag?: (() => Promise<readonly ProjectorLagSample[]>) | undefined;
  readonly authenticator: Authenticator;
  readonly webhookSecrets: WebhookSecrets;
  readonly logger: Logger;
  /** Mounted at its issuer path (`/dev-issuer`) only when `auth.mode` is `dev`. */
  readonly devIssuer?: DevIssuer | null | undefined;
  /** The built console (`console/dist`) served at `/`; none: a page saying how to build it. */
  readonly consoleDir?: string | null | undefined;
  /** Checks Postgres for /readyz. */
  readonly pingDatabase: () => Promise<void>;
  /** Other services' checks in this process (the context service's sources), reported by /readyz. */
  readonly componentHealth?: (() => Promise<Readonly<Record<string, ComponentHealth>>>) | undefined;
  readonly now?: (() => Date) | undefined;
  readonly metricsRegistry?: Registry | undefined;
  /** `nats.replicas`: replicas of the gateway's KV buckets (idempotency keys, rate-limit counters); default 1. */
  readonly natsReplicas?: number | undefined;
  /** NATS KV bucket for idempotency keys; default `<prefix>_idempotency`. */
  readonly idempotencyBucket?: string | undefined;
  /** How long a stored idempotent answer is replayed; default 24 h. */
  readonly idempotencyTtlMs?: number | undefined;
  /** Close a WebSocket whose unsent data exceeds this many bytes; default 1 MiB. */
  readonly wsMaxBufferedBytes?: number | undefined;
  readonly version?: string | undefined;
}

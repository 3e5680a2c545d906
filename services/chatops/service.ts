/**
 * The ChatOps service: Slack's `/assistant` and approval buttons on Bolt
 * (app.ts, receiver.ts), acting through the gateway's API for the person
 * (gateway-client.ts, identity.ts), and one message per plan revision that
 * needs approval, kept current as the plan moves (follow.ts).
 *
 *   const chatops = await createChatOpsService(deps);
 *   const url = await chatops.start();   // Slack's request URL
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Identity } from "../../lib/config/index.ts";
import type { Consumption, EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { createSlackApp } from "./app.ts";
import type { CommandDeps } from "./commands.ts";
import { FOLLOWED_TYPES, followEvent, openMessageStore } from "./follow.ts";
import type { GatewayClient } from "./gateway-client.ts";
import { createSlackIdentities } from "./identity.ts";
import { listenForSlack, type SlackListener } from "./receiver.ts";

export interface ChatOpsDeps {
  readonly store: EventStore;
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly botToken: string;
  readonly signingSecret: string;
  /** Slack's Web API base (`chatops.slack.api_base`). */
  readonly slackApiUrl: string;
  /** Where approval messages go (`chatops.slack.approvals_channel`). */
  readonly channel: string;
  /** Email → Wheelhouse identity (`approvals.identities`). */
  readonly identities: Readonly<Record<string, Identity>>;
  readonly gateway: GatewayClient;
  /** `approvals.plan_url` with `{plan_id}`. */
  readonly planUrl: string;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Durable consumer name; several processes with one name share the work. */
  readonly durable?: string | undefined;
  /** `nats.replicas`, for the message bucket. */
  readonly replicas?: number | undefined;
}

export interface ChatOpsService {
  /** Connects to Slack (`auth.test`), follows plans and listens; resolves to Slack's request URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export function createChatOpsService(deps: ChatOpsDeps): ChatOpsService {
  let listener: SlackListener | null = null;
  let consumption: Consumption | null = null;

  return {
    async start() {
      let commands: CommandDeps | null = null;
      const slack = await createSlackApp({
        botToken: deps.botToken,
        signingSecret: deps.signingSecret,
        apiUrl: deps.slackApiUrl,
        logger: deps.logger,
        commands: () => commands as CommandDeps,
      });
      commands = {
        gateway: deps.gateway,
        identities: createSlackIdentities({ emailOf: slack.emailOf, identities: deps.identities }),
      };
      const messages = await openMessageStore(deps.nc, `${deps.store.prefix}_chatops`, deps.replicas ?? 1);
      const follow = {
        store: deps.store,
        logger: deps.logger,
        slack: slack.poster,
        messages,
        channel: deps.channel,
        planUrl: deps.planUrl,
      };
      consumption = await deps.store.consume({
        durable: deps.durable ?? "chatops",
        // Messages for a burst of plans go out side by side, each plan's events still in order.
        concurrency: 128,
        filterTypes: [...FOLLOWED_TYPES],
        handler: (event) => followEvent(follow, event),
      });
      listener = await listenForSlack({
        receiver: slack.receiver,
        signingSecret: deps.signingSecret,
        host: deps.host,
        port: deps.port,
        logger: deps.logger,
      });
      return listener.url;
    },
    async stop() {
      await listener?.close();
      listener = null;
      await consumption?.stop();
      consumption = null;
    },
  };
}

/**
 * The Bolt app: `/assistant` and the Approve/Deny buttons acknowledged at once
 * and answered after (ephemerally, through the request's `response_url`), and
 * the Web API client (`auth.test` at start, `users.info`, `chat.postMessage`,
 * `chat.update`) pointed at `chatops.slack.api_base`.
 */
import { App, type Logger as BoltLogger, HTTPReceiver, LogLevel } from "@slack/bolt";
import type { Logger } from "../../lib/log/index.ts";
import { answerButton, type CommandDeps, runAssistant } from "./commands.ts";
import type { SlackPoster } from "./follow.ts";
import { APPROVE_ACTION, DENY_ACTION } from "./messages.ts";

export interface SlackApp {
  readonly app: App;
  readonly receiver: HTTPReceiver;
  readonly poster: SlackPoster;
  /** `users.info`'s profile email of a Slack user. */
  emailOf(slackUserId: string): Promise<string | null>;
}

export interface SlackAppDeps {
  readonly botToken: string;
  readonly signingSecret: string;
  /** Slack's Web API base (`https://slack.com/api/`, a local server in tests). */
  readonly apiUrl: string;
  readonly logger: Logger;
  /** The commands, once the identities (which need the client) are known. */
  readonly commands: () => CommandDeps;
}

/** Bolt's logger interface over ours (every line still goes through the scrubber). */
function boltLogger(logger: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const line = (msg: unknown[]) => msg.map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ");
  return {
    debug: (...msg) => logger.debug(line(msg)),
    info: (...msg) => logger.info(line(msg)),
    warn: (...msg) => logger.warn(line(msg)),
    error: (...msg) => logger.error(line(msg)),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

export async function createSlackApp(deps: SlackAppDeps): Promise<SlackApp> {
  const logger = boltLogger(deps.logger);
  const receiver = new HTTPReceiver({
    signingSecret: deps.signingSecret,
    endpoints: "/slack/events",
    processBeforeResponse: false,
    logger,
  });
  const app = new App({
    token: deps.botToken,
    receiver,
    logger,
    clientOptions: { slackApiUrl: deps.apiUrl, retryConfig: { retries: 2, factor: 1.5, minTimeout: 200 } },
    deferInitialization: true,
  });
  // `auth.test`: a wrong token stops the start with Slack's answer instead of failing on the first click.
  await app.init();

  app.command("/assistant", async ({ command, ack, respond }) => {
    await ack();
    const text = await runAssistant(deps.commands(), {
      slackUserId: command.user_id,
      text: command.text,
      requestKey: command.trigger_id,
    });
    await respond({ response_type: "ephemeral", text });
  });
  for (const actionId of [APPROVE_ACTION, DENY_ACTION]) {
    app.action(actionId, async ({ ack, body, action, respond }) => {
      await ack();
      const text = await answerButton(deps.commands(), {
        slackUserId: body.user.id,
        actionId,
        value: "value" in action ? (action.value as string | undefined) : undefined,
        requestKey: "trigger_id" in body ? String(body.trigger_id) : `${body.user.id}:${Date.now()}`,
      });
      await respond({ response_type: "ephemeral", replace_original: false, text });
    });
  }
  app.error(async (error) => {
    deps.logger.error({ err: error }, "a Slack handler failed");
  });

  return {
    app,
    receiver,
    poster: {
      async post({ channel, text, blocks, threadTs }) {
        const r = await app.client.chat.postMessage({
          channel,
          text,
          ...(blocks ? { blocks: blocks as never } : {}),
          ...(threadTs ? { thread_ts: threadTs } : {}),
        });
        return { ts: r.ts as string };
      },
      async update({ channel, ts, text, blocks }) {
        await app.client.chat.update({ channel, ts, text, blocks: blocks as never });
      },
    },
    async emailOf(slackUserId) {
      const info = await app.client.users.info({ user: slackUserId });
      return info.user?.profile?.email ?? null;
    },
  };
}

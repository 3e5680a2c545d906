/** Starts ChatOps on a shared runtime (its own process, or the embedded one); off unless `chatops.slack.enabled`. */
import { createPublicKey, type KeyObject } from "node:crypto";
import { createDelegationMinter } from "../../lib/auth/index.ts";
import { type Config, requireSecret } from "../../lib/config/index.ts";
import { ConfigError } from "../../lib/errors/index.ts";
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { generateCapabilityKeys, loadSigningKey, loadVerifyKey } from "../../lib/tools/index.ts";
import { createGatewayClient } from "./gateway-client.ts";
import { createChatOpsService } from "./service.ts";

const SIGNING_FIELD = "chatops.delegation_signing_key";

export async function startChatOps(
  runtime: Runtime,
  options: { delegationSigningKey?: KeyObject | undefined } = {},
): Promise<RunningService> {
  const { config } = runtime;
  const logger = runtime.logger("chatops");
  const slack = config.chatops.slack;
  if (!slack.enabled) {
    logger.debug("Slack is off (chatops.slack.enabled)");
    return { url: "(off: chatops.slack.enabled is false)", stop: async () => {} };
  }
  if (!slack.approvals_channel) {
    throw new ConfigError("chatops.slack.approvals_channel is not set", [
      {
        field: "chatops.slack.approvals_channel",
        message: "is required when chatops.slack.enabled is true",
        fix: "set it to the id of the channel approval messages go to (C0123456; the bot must be a member)",
      },
    ]);
  }
  const signingKey =
    options.delegationSigningKey ?? loadSigningKey(config.chatops.delegation_signing_key, SIGNING_FIELD);
  if (!signingKey) {
    throw new ConfigError(`${SIGNING_FIELD} is not set, so ChatOps cannot act for Slack users`, [
      {
        field: SIGNING_FIELD,
        message: "is required when ChatOps runs outside the embedded profile",
        fix: "make an Ed25519 pair (openssl genpkey -algorithm ed25519), give ChatOps the private half and the gateway the public half (chatops.delegation_verify_key)",
      },
    ]);
  }
  const service = createChatOpsService({
    store: runtime.store,
    nc: runtime.nc,
    logger,
    botToken: requireSecret(slack.bot_token, "chatops.slack.bot_token"),
    signingSecret: requireSecret(slack.signing_secret, "chatops.slack.signing_secret"),
    slackApiUrl: slack.api_base,
    channel: slack.approvals_channel,
    identities: config.approvals.identities,
    gateway: createGatewayClient({
      baseUrl: config.chatops.gateway_url ?? `http://${config.gateway.host}:${config.gateway.port}`,
      minter: createDelegationMinter({
        service: "chatops",
        channel: "slack",
        audience: config.gateway.auth.audience,
        signingKey,
      }),
    }),
    planUrl: config.approvals.plan_url,
    host: slack.host,
    port: slack.port,
    replicas: config.nats.replicas,
  });
  const url = await service.start();
  logger.info({ url, channel: slack.approvals_channel }, "Slack requests taken");
  return { url, stop: () => service.stop() };
}

/**
 * The on-behalf-of key pair for the embedded profile (ChatOps and the gateway in one process): the
 * configured keys (the public half derived when only the private one is set), otherwise a pair made
 * now and held only in memory. Null when Slack is off: no service then acts for anyone.
 */
export function embeddedDelegationKeys(config: Config): { signingKey: KeyObject; verifyKey: KeyObject } | null {
  if (!config.chatops.slack.enabled) return null;
  const signingKey = loadSigningKey(config.chatops.delegation_signing_key, SIGNING_FIELD);
  const verifyKey = loadVerifyKey(config.chatops.delegation_verify_key, "chatops.delegation_verify_key");
  if (!signingKey) return verifyKey ? null : generateCapabilityKeys();
  return { signingKey, verifyKey: verifyKey ?? createPublicKey(signingKey) };
}

/**
 * `/assistant` and the Approve/Deny buttons as plain functions (the Bolt
 * handlers in app.ts only acknowledge and pass the answer on): who the Slack
 * user is, then the gateway's API for them. Every refusal (unmapped, not an
 * approver, their own plan, a tier policy keeps out of chat, another digest)
 * comes back as the answer to show them.
 */
import type { GatewayClient } from "./gateway-client.ts";
import { GatewayAnswerError } from "./gateway-client.ts";
import type { SlackIdentities } from "./identity.ts";
import { APPROVE_ACTION, auditText, type ButtonValue, parseButtonValue, planStatusText, USAGE } from "./messages.ts";

export interface CommandDeps {
  readonly gateway: GatewayClient;
  readonly identities: SlackIdentities;
}

const PLAN_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** What the gateway said, for the person: its detail and how to fix it. */
function refusal(error: unknown): string {
  if (error instanceof GatewayAnswerError) return `:warning: ${error.detail}${error.fix ? ` (${error.fix})` : ""}`;
  throw error;
}

/** Runs `/assistant <text>` for a Slack user; `requestKey` makes a retried delivery one request. */
export async function runAssistant(
  deps: CommandDeps,
  command: { slackUserId: string; text: string; requestKey: string },
): Promise<string> {
  const [verb = "", ...rest] = command.text.trim().split(/\s+/);
  const argument = command.text.trim().slice(verb.length).trim();
  const who = await deps.identities.lookup(command.slackUserId);
  if ("refused" in who) return `:no_entry: ${who.refused}.`;
  const person = who.person;
  try {
    switch (verb.toLowerCase()) {
      case "plan": {
        if (!argument) return `Say what to change: \`/assistant plan scale checkout to 6 in staging\`.\n${USAGE}`;
        const { id } = await deps.gateway.createPlan(person, argument, `slack:${command.requestKey}`);
        return `:memo: Plan \`${id}\` requested. When policy has decided, it shows here with what it needs; \`/assistant status ${id}\` any time.`;
      }
      case "status":
      case "approve":
      case "audit": {
        const planId = rest[0] ?? "";
        if (!PLAN_ID.test(planId)) return `Name the plan: \`/assistant ${verb} <plan id>\`.`;
        if (verb === "audit") return auditText(await deps.gateway.explainPlan(person, planId));
        const plan = await deps.gateway.getPlan(person, planId);
        if (verb === "status") return planStatusText(plan);
        if (plan.revision === null || typeof plan.digest !== "string") {
          return `:hourglass_flowing_sand: Plan \`${planId}\` has no decided revision to approve yet.`;
        }
        await deps.gateway.decide(
          person,
          { planId, revision: plan.revision, digest: plan.digest, decision: "grant" },
          `slack:${command.requestKey}`,
        );
        return `:white_check_mark: You approved plan \`${planId}\` revision ${plan.revision} (digest \`${plan.digest.slice(0, 16)}…\`).`;
      }
      default:
        return USAGE;
    }
  } catch (error) {
    return refusal(error);
  }
}

/** A click on Approve or Deny: the revision and digest the message showed, answered for the clicker. */
export async function answerButton(
  deps: CommandDeps,
  click: { slackUserId: string; actionId: string; value: string | undefined; requestKey: string },
): Promise<string> {
  const value: ButtonValue | null = parseButtonValue(click.value);
  if (!value) return ":warning: This button does not name a plan revision; use `/assistant approve <plan id>`.";
  const who = await deps.identities.lookup(click.slackUserId);
  if ("refused" in who) return `:no_entry: ${who.refused}.`;
  const decision = click.actionId === APPROVE_ACTION ? "grant" : "deny";
  try {
    await deps.gateway.decide(
      who.person,
      {
        planId: value.p,
        revision: value.r,
        digest: value.d,
        decision,
        ...(decision === "deny" ? { comment: "denied in Slack" } : {}),
      },
      `slack:${click.requestKey}`,
    );
    return decision === "grant"
      ? `:white_check_mark: Your approval of plan \`${value.p}\` revision ${value.r} is recorded.`
      : `:no_entry: Your denial of plan \`${value.p}\` revision ${value.r} is recorded.`;
  } catch (error) {
    return refusal(error);
  }
}

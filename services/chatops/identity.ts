/**
 * Who a Slack user is in Wheelhouse: their email from Slack (`users.info`),
 * then the identity `approvals.identities` maps it to, the same map Linear
 * answers go through, so a person is one approver everywhere. Looked up once
 * per user and kept for a few minutes; an unmapped user is refused by the
 * caller, never guessed.
 */
import type { OnBehalfOf } from "../../lib/auth/index.ts";
import type { Identity } from "../../lib/config/index.ts";

export interface SlackPerson extends OnBehalfOf {
  readonly slackUserId: string;
}

export type Lookup = { readonly person: SlackPerson } | { readonly refused: string };

export interface SlackIdentities {
  /** The person behind a Slack user id, or why they cannot act. */
  lookup(slackUserId: string): Promise<Lookup>;
}

export function createSlackIdentities(deps: {
  /** `users.info`'s profile email for a user id (null when Slack has none). */
  readonly emailOf: (slackUserId: string) => Promise<string | null>;
  readonly identities: Readonly<Record<string, Identity>>;
  readonly ttlMs?: number | undefined;
  readonly now?: (() => number) | undefined;
}): SlackIdentities {
  const byEmail = new Map(Object.entries(deps.identities).map(([email, id]) => [email.toLowerCase(), id]));
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { readonly lookup: Lookup; readonly until: number }>();

  async function resolve(slackUserId: string): Promise<Lookup> {
    const email = await deps.emailOf(slackUserId);
    if (!email) return { refused: "Slack shows no email for you, so Wheelhouse cannot tell who you are" };
    const identity = byEmail.get(email.toLowerCase());
    if (!identity) {
      return {
        refused: `${email} is not mapped to a Wheelhouse identity (an administrator adds it to approvals.identities)`,
      };
    }
    return {
      person: {
        slackUserId,
        sub: identity.id,
        roles: identity.roles,
        ...(identity.groups ? { groups: identity.groups } : {}),
        email,
      },
    };
  }

  return {
    async lookup(slackUserId) {
      const hit = cache.get(slackUserId);
      if (hit && hit.until > now()) return hit.lookup;
      const lookup = await resolve(slackUserId);
      cache.set(slackUserId, { lookup, until: now() + (deps.ttlMs ?? 300_000) });
      return lookup;
    },
  };
}

/**
 * Linear issues through the real `@linear/sdk`, with the connection the
 * approvals service uses (`approvals.linear`: api_url, api_key, team_key).
 * An issue is opened under an id of the caller's choosing (`linearId` of a
 * name), so a second attempt finds the first issue instead of opening
 * another; the approvals service opens its approval issues the same way.
 */
import { createHash } from "node:crypto";
import {
  AuthenticationLinearError,
  ForbiddenLinearError,
  InvalidInputLinearError,
  LinearClient,
  RatelimitedLinearError,
} from "@linear/sdk";
import {
  ForbiddenError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
  WheelhouseError,
} from "../errors/index.ts";

/**
 * A UUID (v4-shaped, as Linear requires of ids a client picks) derived from `name`: the same
 * issue or comment gets the same id however often it is attempted.
 */
export function linearId(name: string): string {
  const h = createHash("sha256").update(`wheelhouse:${name}`).digest("hex");
  const variant = ((Number.parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface LinearIssueSettings {
  readonly apiUrl: string;
  readonly apiKey: string;
  /** The team issues are filed in, by its key (`OPS`). */
  readonly teamKey: string;
}

export interface LinearIssueRef {
  readonly id: string;
  readonly identifier: string;
  readonly url: string;
}

export interface LinearIssues {
  /** Opens the issue under `id`, or answers the one already there under that id. */
  open(issue: { id: string; title: string; description: string }): Promise<LinearIssueRef>;
}

const CREATE_ISSUE = `mutation issueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}`;

export function createLinearIssues(settings: LinearIssueSettings): LinearIssues {
  const client = new LinearClient({ apiKey: settings.apiKey, apiUrl: settings.apiUrl });
  let teamId: Promise<string> | null = null;
  async function lookUpTeam(): Promise<string> {
    const found = (await client.teams({ filter: { key: { eq: settings.teamKey } } })).nodes[0];
    if (!found) {
      throw new UnavailableError(`Linear has no team with the key ${settings.teamKey}`, {
        field: "approvals.linear.team_key",
        fix: "set approvals.linear.team_key to the key of a team the API key can see (Settings → Teams)",
      });
    }
    return found.id;
  }
  const team = () => {
    teamId ??= lookUpTeam().catch((error: unknown) => {
      // A failed look-up is tried again next time.
      teamId = null;
      throw error;
    });
    return teamId;
  };
  async function open({ id, title, description }: { id: string; title: string; description: string }) {
    try {
      // The SDK's own GraphQL client with a selection of our own: the identifier and URL in one round trip.
      const created = await client.client.request<
        { issueCreate: { issue: LinearIssueRef | null } },
        { input: Record<string, unknown> }
      >(CREATE_ISSUE, { input: { id, teamId: await team(), title, description } });
      if (created.issueCreate.issue) return created.issueCreate.issue;
    } catch (error) {
      // Opened by an earlier attempt: the id is taken, so that issue is the one.
      const existing = await client.issue(id).catch(() => null);
      if (!existing) throw error;
      return { id: existing.id, identifier: existing.identifier, url: existing.url };
    }
    const issue = await client.issue(id);
    return { id: issue.id, identifier: issue.identifier, url: issue.url };
  }
  return {
    open: (issue) =>
      open(issue).catch((error: unknown) => {
        throw asWheelhouseError(error);
      }),
  };
}

/** The SDK's errors as the ones a caller acts on: Linear refusing the request, or Linear being away. */
function asWheelhouseError(error: unknown): WheelhouseError {
  if (error instanceof WheelhouseError) return error;
  const message = `Linear: ${(error as Error).message}`;
  const field = "approvals.linear";
  if (error instanceof AuthenticationLinearError) {
    return new UnauthenticatedError(message, { field: "approvals.linear.api_key", fix: "set a valid Linear API key" });
  }
  if (error instanceof ForbiddenLinearError) {
    return new ForbiddenError(message, { field, fix: "give the API key's user access to the team" });
  }
  if (error instanceof InvalidInputLinearError) {
    return new ValidationError(message, { field, fix: "correct the issue Linear refused" });
  }
  if (error instanceof RatelimitedLinearError) {
    return new RateLimitedError(message, error.retryAfter ?? 60, { field, fix: "retry later", cause: error });
  }
  return new UnavailableError(message, {
    field,
    fix: "check that Linear is reachable at approvals.linear.api_url",
    cause: error,
  });
}

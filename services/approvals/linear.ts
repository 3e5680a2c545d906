/**
 * What the approvals service does in Linear, through the real `@linear/sdk`:
 * find the team, its workflow states and the approval labels (creating the
 * labels that are missing), open an issue under an id of our choosing (so a
 * second attempt finds the first instead of opening another), move the
 * approval label, comment (again under our ids), and read an issue's history
 * for the polling fallback.
 */
import { LinearClient } from "@linear/sdk";
import { UnavailableError } from "../../lib/errors/index.ts";
import { linearId } from "../../lib/integrations/index.ts";
import type { Logger } from "../../lib/log/index.ts";

export type ApprovalLabel = "pending" | "granted" | "denied" | "expired";

export interface LinearSettings {
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly teamKey: string;
  readonly labels: Readonly<Record<ApprovalLabel, string>>;
}

/** One change a person made to an issue, as its history records it. */
export interface IssueChange {
  readonly id: string;
  readonly actorId: string | null;
  readonly at: string;
  readonly toState: string | null;
  readonly addedLabels: readonly string[];
}

export interface OpenedIssue {
  readonly id: string;
  readonly identifier: string;
  readonly url: string;
}

export interface LinearApprovals {
  /** Looks up the team, its states and the approval labels; creates missing labels. Idempotent. */
  setup(): Promise<void>;
  /** Opens the issue under `id`, or takes the one already there under that id (written again as ours). */
  openIssue(issue: { id: string; title: string; description: string }): Promise<OpenedIssue>;
  /** Swaps the issue's approval label for `label`. */
  label(issueId: string, label: ApprovalLabel): Promise<void>;
  /** Comments under `id`; a comment already there under that id is left as it is, and no issue is no comment. */
  comment(issueId: string, id: string, body: string): Promise<"created" | "exists" | "no_issue">;
  /** The issue's changes, oldest first. */
  changes(issueId: string): Promise<IssueChange[]>;
  /** A Linear user's email (cached). */
  emailOf(userId: string): Promise<string | null>;
}

/** Ids derived from a name (`linearId`) are shared with the orchestrator's follow-up issues: lib/integrations. */
export { linearId };

const CREATE_ISSUE = `mutation issueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}`;

export function createLinearApprovals(settings: LinearSettings, logger: Logger): LinearApprovals {
  const client = new LinearClient({ apiKey: settings.apiKey, apiUrl: settings.apiUrl });
  let teamId: string | null = null;
  const labelIds = new Map<ApprovalLabel, string>();
  const stateNames = new Map<string, string>();
  const emails = new Map<string, string | null>();
  let ready: Promise<void> | null = null;

  async function lookUp(): Promise<void> {
    const team = (await client.teams({ filter: { key: { eq: settings.teamKey } } })).nodes[0];
    if (!team) {
      throw new UnavailableError(`Linear has no team with the key ${settings.teamKey}`, {
        field: "approvals.linear.team_key",
        fix: "set approvals.linear.team_key to the key of a team the API key can see (Settings → Teams)",
      });
    }
    const states = await client.workflowStates({ filter: { team: { id: { eq: team.id } } } });
    for (const s of states.nodes) stateNames.set(s.id, s.name);
    const wanted = Object.entries(settings.labels) as [ApprovalLabel, string][];
    const found = await client.issueLabels({ filter: { name: { in: wanted.map(([, name]) => name) } } });
    for (const [kind, name] of wanted) {
      let id = found.nodes.find((l) => l.name.toLowerCase() === name.toLowerCase())?.id;
      if (id === undefined) {
        id = linearId(`label:${team.id}:${name}`);
        await client.createIssueLabel({ id, name, teamId: team.id }).catch(async (error: unknown) => {
          // Made by another replica in the meantime: the same id, so it is ours.
          const exists = await client.issueLabel(id as string).catch(() => null);
          if (!exists) throw error;
        });
        logger.info({ label: name }, "created the Linear approval label");
      }
      labelIds.set(kind, id);
    }
    teamId = team.id;
  }

  const setup = () => {
    ready ??= lookUp().catch((error: unknown) => {
      ready = null;
      throw error;
    });
    return ready;
  };
  const labelId = (label: ApprovalLabel) => labelIds.get(label) as string;
  const labelNames = new Map<string, string | null>();
  async function labelName(id: string): Promise<string | null> {
    if (!labelNames.has(id)) labelNames.set(id, (await client.issueLabel(id).catch(() => null))?.name ?? null);
    return labelNames.get(id) ?? null;
  }

  async function describe(id: string): Promise<OpenedIssue> {
    const issue = await client.issue(id);
    return { id: issue.id, identifier: issue.identifier, url: issue.url };
  }

  return {
    setup,
    async openIssue({ id, title, description }) {
      await setup();
      try {
        // The SDK's own GraphQL client with a selection of our own: the created issue's identifier and
        // URL come back in the one round trip (createIssue's payload would fetch the issue again).
        const created = await client.client.request<
          { issueCreate: { issue: OpenedIssue | null } },
          { input: Record<string, unknown> }
        >(CREATE_ISSUE, { input: { id, teamId, title, description, labelIds: [labelId("pending")] } });
        if (created.issueCreate.issue) return created.issueCreate.issue;
      } catch (error) {
        // Opened by an earlier attempt (a restart, a redelivery): the id is taken, so that issue is the one.
        const existing = await client.issue(id).catch(() => null);
        if (!existing) throw error;
        await client.updateIssue(id, { title, description });
        logger.info({ issue: existing.identifier }, "took the approval issue an earlier attempt opened");
      }
      return describe(id);
    },
    async label(issueId, label) {
      await setup();
      const others = (["pending", "granted", "denied", "expired"] as const).filter((l) => l !== label).map(labelId);
      await client.updateIssue(issueId, { addedLabelIds: [labelId(label)], removedLabelIds: others });
    },
    async comment(issueId, id, body) {
      try {
        await client.createComment({ id, issueId, body });
        return "created";
      } catch (error) {
        if (await client.comment({ id }).catch(() => null)) return "exists";
        if (!(await client.issue(issueId).catch(() => null))) return "no_issue";
        throw error;
      }
    },
    async changes(issueId) {
      await setup();
      const issue = await client.issue(issueId);
      const history = await issue.history({ first: 100 });
      const changes = await Promise.all(
        history.nodes.map(async (h) => ({
          id: h.id,
          actorId: h.actorId ?? null,
          at: h.createdAt.toISOString(),
          toState: h.toStateId ? (stateNames.get(h.toStateId) ?? null) : null,
          addedLabels: (await Promise.all((h.addedLabelIds ?? []).map(labelName))).filter((n): n is string => !!n),
        })),
      );
      return changes.sort((a, b) => a.at.localeCompare(b.at));
    },
    async emailOf(userId) {
      if (!emails.has(userId)) {
        const user = await client.user(userId).catch(() => null);
        emails.set(userId, user?.email ?? null);
      }
      return emails.get(userId) ?? null;
    },
  };
}

/**
 * Transitions people make on approval issues, from a webhook delivery or from
 * the issue's history (polling), and what each means under the configured
 * `grant`/`deny` states and labels. A transition names the Linear user who
 * made it; whether that person may approve is the plan decider's question.
 */
import type { LinearWebhook } from "../../schemas/rpc/approvals.ts";
import type { IssueChange } from "./linear.ts";

export interface IssueTransition {
  readonly issueId: string;
  /** The Linear user who made it. */
  readonly actorId: string;
  readonly actorName: string;
  /** Their email when the delivery or a user lookup gave one. */
  readonly email: string | null;
  readonly kind: "state" | "label";
  /** The state moved to, or the label added. */
  readonly name: string;
  /** One person making one transition on one issue: a redelivery, or polling after a webhook, is the same. */
  readonly key: string;
}

export type Meaning = "grant" | "deny";

export interface TransitionRules {
  readonly grant: { readonly states: readonly string[]; readonly labels: readonly string[] };
  readonly deny: { readonly states: readonly string[]; readonly labels: readonly string[] };
}

const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** What a transition means: grant, deny, or nothing (any other state or label). */
export function meaningOf(t: Pick<IssueTransition, "kind" | "name">, rules: TransitionRules): Meaning | null {
  for (const meaning of ["deny", "grant"] as const) {
    const names = t.kind === "state" ? rules[meaning].states : rules[meaning].labels;
    if (names.some((n) => same(n, t.name))) return meaning;
  }
  return null;
}

const keyOf = (issueId: string, actorId: string, kind: string, name: string) =>
  `${issueId}:${actorId}:${kind}:${name.trim().toLowerCase()}`;

/** The transitions of an `Issue` `update` delivery: a state change and each label added. */
export function transitionsOfWebhook(webhook: LinearWebhook): IssueTransition[] {
  if (webhook.type !== "Issue" || webhook.action !== "update") return [];
  const data = (webhook.data ?? {}) as {
    id?: string;
    state?: { name?: string };
    labelIds?: string[];
    labels?: { id?: string; name?: string }[];
  };
  const actorId = webhook.actor?.id;
  if (!data.id || !actorId) return [];
  const from = webhook.updatedFrom ?? {};
  const base = {
    issueId: data.id,
    actorId,
    actorName: webhook.actor?.name ?? actorId,
    email: webhook.actor?.email ?? null,
  };
  const out: IssueTransition[] = [];
  if ("stateId" in from && data.state?.name) {
    out.push({ ...base, kind: "state", name: data.state.name, key: keyOf(data.id, actorId, "state", data.state.name) });
  }
  if (Array.isArray(from.labelIds)) {
    const before = new Set(from.labelIds as string[]);
    for (const id of data.labelIds ?? []) {
      if (before.has(id)) continue;
      const name = data.labels?.find((l) => l.id === id)?.name;
      if (name) out.push({ ...base, kind: "label", name, key: keyOf(data.id, actorId, "label", name) });
    }
  }
  return out;
}

/** The transitions an issue's history records, oldest first; `emailOf` names each actor. */
export async function transitionsOfHistory(
  issueId: string,
  changes: readonly IssueChange[],
  emailOf: (userId: string) => Promise<string | null>,
): Promise<IssueTransition[]> {
  const out: IssueTransition[] = [];
  for (const change of changes) {
    if (!change.actorId) continue;
    const email = await emailOf(change.actorId);
    const base = { issueId, actorId: change.actorId, actorName: email ?? change.actorId, email };
    if (change.toState) {
      out.push({
        ...base,
        kind: "state",
        name: change.toState,
        key: keyOf(issueId, change.actorId, "state", change.toState),
      });
    }
    for (const name of change.addedLabels) {
      out.push({ ...base, kind: "label", name, key: keyOf(issueId, change.actorId, "label", name) });
    }
  }
  return out;
}

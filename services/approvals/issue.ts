/**
 * The approval issue as people read it in Linear: its title and body (the
 * request, the typed steps, policy's tier and reasons, who must approve, the
 * dry run's diff when there is one, the digest, the link), the comments that
 * follow the plan, and the footer that names the plan revision the issue is
 * for. The footer is a hint only: the issue's id is derived from what it names
 * (`issueIdFor`), so an edited footer or a look-alike issue points at nothing.
 */
import { type ApprovalView, describeStep } from "../../lib/approvals/index.ts";
import { linearId } from "./linear.ts";

/** Which revision an issue is for. */
export interface IssueSubject {
  readonly planId: string;
  readonly revision: number;
  readonly digest: string;
}

/** The id of the one issue a plan revision gets, in this Wheelhouse (its events prefix). */
export function issueIdFor(prefix: string, subject: IssueSubject): string {
  return linearId(`${prefix}:issue:${subject.planId}:${subject.revision}:${subject.digest}`);
}

const FOOTER = /wheelhouse plan `([A-Za-z0-9_-]{1,128})` revision (\d+) digest `([0-9a-f]{64})`/;

/** The revision an issue's body names, checked against the issue's own id; null for any other issue. */
export function subjectOfIssue(prefix: string, issueId: string, description: string | undefined): IssueSubject | null {
  const match = FOOTER.exec(description ?? "");
  if (!match) return null;
  const subject = { planId: match[1] ?? "", revision: Number(match[2]), digest: match[3] ?? "" };
  return issueIdFor(prefix, subject) === issueId ? subject : null;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function issueTitle(view: ApprovalView): string {
  return clip(`Approve: ${view.intent.replace(/\s+/g, " ")} (${view.tier}, plan ${view.planId.slice(0, 8)})`, 120);
}

export interface IssueTexts {
  /** The plan's page (`approvals.plan_url`). */
  readonly link: string;
  /** State and label names that grant and deny, as configured. */
  readonly grant: { readonly states: readonly string[]; readonly labels: readonly string[] };
  readonly deny: { readonly states: readonly string[]; readonly labels: readonly string[] };
  /** The dry run's diff, when one was recorded before the issue was opened. */
  readonly diff?: string | undefined;
}

const either = (t: { readonly states: readonly string[]; readonly labels: readonly string[] }) =>
  [...t.states.map((s) => `move it to **${s}**`), ...t.labels.map((l) => `add the label **${l}**`)].join(" or ");

export function issueDescription(view: ApprovalView, subject: IssueSubject, texts: IssueTexts): string {
  const req = view.requirement;
  const who = [
    `${Math.max(1, req.approvers)} approver${req.approvers === 1 ? "" : "s"}`,
    ...req.groups.map((g) => `${g.count} from ${g.group}`),
  ].join(", ");
  const lines = [
    `**${view.requestedBy.display_name ?? view.requestedBy.id}** asks: ${view.intent}`,
    "",
    `**Plan** \`${view.planId}\` revision ${view.revision}${view.summary ? ` — ${view.summary}` : ""}`,
    "",
    ...view.steps.map((s, i) => `${i + 1}. \`${describeStep(s)}\` — ${s.rationale}`),
    "",
    `**Policy:** ${view.decision}, tier **${view.tier}** (policy ${view.policyRevision.slice(0, 12)})`,
    ...view.reasons.map((r) => `- ${r}`),
    "",
    `**Who must approve:** ${who}${req.self_approval ? "" : ", not the requester"} · channels: ${req.channels.join(", ")} · until ${view.deadline}`,
    "",
    texts.diff
      ? `**Diff preview (dry run):**\n\`\`\`diff\n${clip(texts.diff, 6000)}\n\`\`\``
      : "**Diff preview:** no dry run recorded yet; when one is, its diff is added here as a comment.",
    "",
    `**Digest:** \`${subject.digest}\` — an approval approves exactly these steps; any change is a new revision.`,
    "",
    `**In Wheelhouse:** ${texts.link}`,
    "",
    `To approve, ${either(texts.grant)}. To deny, ${either(texts.deny)}. Only people mapped to a Wheelhouse approver count; anyone else is told so here.`,
    "",
    "---",
    `wheelhouse plan \`${subject.planId}\` revision ${subject.revision} digest \`${subject.digest}\``,
  ];
  return lines.join("\n");
}

/** The comment written when an answer is recorded, from any channel. */
export function answerComment(view: ApprovalView, approver: string): string {
  const answer = view.answers.find((a) => a.approver === approver);
  if (!answer) return `${approver} answered.`;
  const how = `**${approver}** via ${answer.channel}${answer.breakGlass ? " (break-glass)" : ""}`;
  if (answer.decision === "denied") return `⛔ Denied by ${how}${answer.reason ? `: ${answer.reason}` : "."}`;
  const tally = view.quorum.met ? "the approvals policy requires are all in" : `still needed: ${view.missing}`;
  return `✅ Granted by ${how}${answer.comment ? ` — ${answer.comment}` : ""}. ${clip(tally, 300)}.`;
}

export function expiredComment(view: ApprovalView): string {
  return `⌛ The approval window closed at ${view.deadline} without the approvals policy requires; this revision cannot run. Ask for the plan again to get a fresh decision.`;
}

export function executionComment(executionId: string, status: string): string {
  return `▶ Execution \`${executionId}\`: ${status}.`;
}

export function diffComment(executionId: string, diff: string): string {
  return `**Diff preview (dry run \`${executionId}\`):**\n\`\`\`diff\n${clip(diff, 6000)}\n\`\`\``;
}

export function refusalComment(who: string, what: string, why: string, fix: string): string {
  return `Wheelhouse did not take ${who}'s ${what}: ${why}. ${fix}`;
}

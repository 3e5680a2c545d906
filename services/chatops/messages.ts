/**
 * What ChatOps says in Slack: the one message a plan needing approval gets
 * (Block Kit, updated in place as the plan moves: who approved and through
 * which channel, executing, verified, rolled back), with Approve and Deny
 * buttons bound to the revision's digest while it is pending; the replies in
 * its thread; and the answers to `/assistant` commands.
 */
import { type ApprovalView, describeStep } from "../../lib/approvals/index.ts";

export const APPROVE_ACTION = "approve";
export const DENY_ACTION = "deny";

/** What a button carries: the revision and digest the message showed, so a click approves exactly that. */
export interface ButtonValue {
  readonly p: string;
  readonly r: number;
  readonly d: string;
}

export function parseButtonValue(value: string | undefined): ButtonValue | null {
  try {
    const v = JSON.parse(value ?? "") as Partial<ButtonValue>;
    return typeof v.p === "string" && Number.isInteger(v.r) && typeof v.d === "string" && /^[0-9a-f]{64}$/.test(v.d)
      ? { p: v.p, r: v.r as number, d: v.d }
      : null;
  } catch {
    return null;
  }
}

/** Slack's mrkdwn with its three control characters escaped. */
const esc = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text: clip(text, 3000) } });

/** The status line: pending and what is missing, or the outcome and who gave it. */
export function statusLine(view: ApprovalView, execution: string | null): string {
  const who = (decision: "granted" | "denied") =>
    view.answers
      .filter((a) => a.decision === decision)
      .map((a) => `${a.approver} (${a.channel}${a.breakGlass ? ", break-glass" : ""})`)
      .join(", ");
  const line =
    view.status === "approved"
      ? `:white_check_mark: *Approved* by ${who("granted")}`
      : view.status === "denied"
        ? `:no_entry: *Denied* by ${who("denied")}`
        : view.status === "expired"
          ? `:hourglass: *Expired* at ${view.deadline} without the approvals policy requires`
          : `:hourglass_flowing_sand: *Waiting for approval*: ${view.missing ?? ""}${who("granted") ? ` · granted so far by ${who("granted")}` : ""}`;
  return execution ? `${line}\n:arrow_forward: Execution: *${esc(execution)}*` : line;
}

export interface MessageContext {
  /** The plan's page (`approvals.plan_url`). */
  readonly link: string;
  /** The latest execution's status, when one was requested. */
  readonly execution: string | null;
}

/** The plan's message: `text` for notifications, `blocks` for the message itself. */
export function approvalMessage(view: ApprovalView, ctx: MessageContext): { text: string; blocks: unknown[] } {
  const slackAllowed = view.requirement.channels.includes("slack");
  const requester = view.requestedBy.display_name ?? view.requestedBy.id;
  const blocks: unknown[] = [
    section(
      `*<${ctx.link}|Plan ${view.planId.slice(0, 8)}>* · tier *${view.tier}* · revision ${view.revision}\n*${esc(requester)}* asks: ${esc(view.intent)}`,
    ),
    section(view.steps.map((s, i) => `${i + 1}. \`${esc(describeStep(s))}\``).join("\n") || "_no steps_"),
    section(`*Policy:* ${view.reasons.map(esc).join("; ") || view.decision}`),
    {
      type: "context",
      elements: [
        { type: "mrkdwn", text: `Digest \`${view.digest?.slice(0, 16) ?? "none"}…\` · until ${view.deadline}` },
        ...(view.links.linear
          ? [{ type: "mrkdwn", text: `<${view.links.linear}|${view.links.linear_issue ?? "Linear issue"}>` }]
          : []),
      ],
    },
    section(statusLine(view, ctx.execution)),
  ];
  if (view.status === "pending" && view.digest !== null) {
    if (slackAllowed) {
      const value = JSON.stringify({ p: view.planId, r: view.revision, d: view.digest } satisfies ButtonValue);
      blocks.push({
        type: "actions",
        block_id: "decision",
        elements: [
          {
            type: "button",
            action_id: APPROVE_ACTION,
            style: "primary",
            text: { type: "plain_text", text: "Approve" },
            value,
          },
          {
            type: "button",
            action_id: DENY_ACTION,
            style: "danger",
            text: { type: "plain_text", text: "Deny" },
            value,
          },
        ],
      });
    } else {
      blocks.push({
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: `A ${view.tier} plan is approved through ${view.requirement.channels.join(", ")}, not from chat.`,
          },
        ],
      });
    }
  }
  const text = `Plan ${view.planId.slice(0, 8)} (${view.tier}): ${clip(view.intent, 150)} — ${view.status.replace("_", " ")}`;
  return { text, blocks };
}

/** The thread reply for an answer. */
export function answerReply(view: ApprovalView, approver: string): string {
  const a = view.answers.find((x) => x.approver === approver);
  if (!a) return `${approver} answered.`;
  const verb = a.decision === "granted" ? ":white_check_mark: Granted" : ":no_entry: Denied";
  const note = a.decision === "denied" ? (a.reason ?? "") : (a.comment ?? "");
  return `${verb} by *${esc(approver)}* via ${a.channel}${a.breakGlass ? " (break-glass)" : ""}${note ? `: ${esc(note)}` : ""}`;
}

export const executionReply = (executionId: string, status: string) =>
  `:arrow_forward: Execution \`${executionId}\`: ${esc(status)}`;

/** `/assistant status` and the answer to `/assistant approve`. */
export function planStatusText(plan: Record<string, unknown>): string {
  const approvals = `${plan.approvals_granted ?? 0}/${plan.approvers_required ?? 0} approvals`;
  return [
    `*Plan ${String(plan.plan_id)}* · ${String(plan.status)} · tier ${String(plan.tier ?? "-")} · revision ${String(plan.revision ?? "-")} · ${approvals}`,
    plan.intent ? `> ${esc(String(plan.intent))}` : "",
    plan.digest ? `Digest \`${String(plan.digest)}\`` : "",
  ]
    .filter(Boolean)
    .join("\n");
}

/** `/assistant audit`: the change's story from `explain`, with the channel and approver of each answer. */
export function auditText(explanation: Record<string, unknown>): string {
  const approvals =
    (explanation.approvals as {
      status: string;
      approver?: string | null;
      channel?: string | null;
      via?: string | null;
      at: string;
    }[]) ?? [];
  const executions = (explanation.executions as { execution_id: string; status?: string }[]) ?? [];
  const lines = [`*Audit of plan ${String(explanation.plan_id ?? "")}*`];
  for (const a of approvals) {
    lines.push(
      `• ${a.at} ${a.status}${a.approver ? ` by ${esc(a.approver)}` : ""}${(a.channel ?? a.via) ? ` via ${a.channel ?? a.via}` : ""}`,
    );
  }
  for (const e of executions) lines.push(`• execution \`${e.execution_id}\`${e.status ? `: ${e.status}` : ""}`);
  return clip(lines.join("\n"), 3000);
}

export const USAGE =
  "Usage: `/assistant plan <change in plain words>` · `/assistant approve <plan id>` · `/assistant status <plan id>` · `/assistant audit <plan id>`";

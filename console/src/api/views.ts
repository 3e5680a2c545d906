/**
 * The parts of API answers that the OpenAPI document leaves open (`Record<string, unknown>`: the
 * read models' JSON columns), read field by field with a fallback, never trusted by a cast alone.
 */
import type { Plan } from "./client";

export interface ApprovalAnswerView {
  readonly approver: string;
  readonly via: string;
  readonly digest: string | null;
  readonly groups: readonly string[];
  readonly breakGlass: boolean;
  readonly comment: string | null;
  readonly at: string;
}

export interface ApprovalView {
  readonly approvalId: string;
  readonly revision: number;
  readonly status: string;
  readonly approversRequired: number;
  readonly approvers: readonly ApprovalAnswerView[];
  readonly channels: readonly string[];
  readonly links: Readonly<Record<string, string>>;
  readonly expiresAt: string | null;
  readonly reason: string | null;
  readonly requestedAt: string;
}

export interface StepView {
  readonly stepId: string;
  readonly actionId: string;
  readonly input: unknown;
  readonly rationale: string;
  readonly expectedEffect: string | null;
  readonly decision: string | null;
  readonly tier: string | null;
  readonly reasons: readonly string[];
}

export interface RequirementView {
  readonly approvers: number;
  readonly groups: readonly { group: string; count: number }[];
  readonly selfApproval: boolean;
  readonly channels: readonly string[];
}

export interface PolicyView {
  readonly reasons: readonly string[];
  readonly policyRevision: string | null;
  readonly expiresAt: string | null;
  readonly decidedAt: string | null;
  readonly requirement: RequirementView | null;
}

type Loose = Record<string, unknown>;

const str = (value: unknown): string | null => (typeof value === "string" ? value : null);
const num = (value: unknown, fallback = 0): number => (typeof value === "number" ? value : fallback);
const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
const obj = (value: unknown): Loose => (typeof value === "object" && value !== null ? (value as Loose) : {});

export function approvalsOf(plan: Plan): ApprovalView[] {
  return plan.approvals.map((a) => ({
    approvalId: str(a.approval_id) ?? "",
    revision: num(a.revision),
    status: str(a.status) ?? "pending",
    approversRequired: num(a.approvers_required),
    approvers: (Array.isArray(a.approvers) ? a.approvers : []).map((raw) => {
      const p = obj(raw);
      return {
        approver: str(p.approver) ?? "?",
        via: str(p.via) ?? "?",
        digest: str(p.digest),
        groups: strings(p.groups),
        breakGlass: p.break_glass === true,
        comment: str(p.comment),
        at: str(p.at) ?? "",
      };
    }),
    channels: strings(a.channels),
    links: Object.fromEntries(
      Object.entries(obj(a.links)).filter((e): e is [string, string] => typeof e[1] === "string"),
    ),
    expiresAt: str(a.expires_at),
    reason: str(a.reason),
    requestedAt: str(a.requested_at) ?? "",
  }));
}

export function stepsOf(plan: Plan): StepView[] {
  return plan.steps.map((s) => ({
    stepId: str(s.step_id) ?? "?",
    actionId: str(s.action_id) ?? "?",
    input: s.input,
    rationale: str(s.rationale) ?? "",
    expectedEffect: str(s.expected_effect),
    decision: str(s.decision),
    tier: str(s.tier),
    reasons: strings(s.reasons),
  }));
}

export function policyOf(plan: Plan): PolicyView | null {
  if (plan.policy === null || typeof plan.policy !== "object") return null;
  const p = obj(plan.policy);
  const approval = p.approval === undefined || p.approval === null ? null : obj(p.approval);
  return {
    reasons: strings(p.reasons),
    policyRevision: str(p.policy_revision),
    expiresAt: str(p.expires_at),
    decidedAt: str(p.decided_at),
    requirement: approval
      ? {
          approvers: num(approval.approvers),
          groups: (Array.isArray(approval.groups) ? approval.groups : []).map((g) => ({
            group: str(obj(g).group) ?? "?",
            count: num(obj(g).count, 1),
          })),
          selfApproval: approval.self_approval === true,
          channels: strings(approval.channels),
        }
      : null,
  };
}

/** The pending approval request of the plan's current revision, if one was opened. */
export function currentApproval(plan: Plan): ApprovalView | null {
  return approvalsOf(plan).find((a) => a.revision === plan.revision && a.status === "pending") ?? null;
}

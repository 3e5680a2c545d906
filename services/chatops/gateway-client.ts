/**
 * ChatOps calls the gateway's HTTP API like any client, for the person who
 * typed the command or clicked the button: each call carries a fresh 60 s
 * on-behalf-of token naming that person's Wheelhouse identity (signed with
 * ChatOps's own key, lib/auth/delegation.ts), so the gateway checks their
 * roles, records them as the actor, and records Slack as the channel.
 */
import type { DelegationMinter, OnBehalfOf } from "../../lib/auth/index.ts";

/** A problem+json answer, as the gateway sends errors. */
export class GatewayAnswerError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly fix: string | null,
  ) {
    super(detail);
    this.name = "GatewayAnswerError";
  }
}

export interface PlanAnswer {
  readonly plan_id: string;
  readonly status: string;
  readonly revision: number | null;
  readonly digest?: string | null | undefined;
  readonly intent: string | null;
  readonly tier: string | null;
  readonly decision: string | null;
  readonly approvals_granted: number;
  readonly approvers_required: number;
  readonly [key: string]: unknown;
}

export interface GatewayClient {
  createPlan(person: OnBehalfOf, intent: string, idempotencyKey: string): Promise<{ id: string }>;
  getPlan(person: OnBehalfOf, planId: string): Promise<PlanAnswer>;
  explainPlan(person: OnBehalfOf, planId: string): Promise<Record<string, unknown>>;
  decide(
    person: OnBehalfOf,
    answer: { planId: string; revision: number; digest: string; decision: "grant" | "deny"; comment?: string },
    idempotencyKey: string,
  ): Promise<void>;
}

export function createGatewayClient(deps: {
  readonly baseUrl: string;
  readonly minter: DelegationMinter;
  readonly fetch?: typeof fetch | undefined;
  readonly timeoutMs?: number | undefined;
}): GatewayClient {
  const send = deps.fetch ?? fetch;
  const base = deps.baseUrl.replace(/\/$/, "");

  async function call<T>(person: OnBehalfOf, method: string, path: string, body?: unknown, key?: string): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${await deps.minter.mint(person)}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (key !== undefined) headers["idempotency-key"] = key;
    const response = await send(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!response.ok) {
      const detail = typeof parsed.detail === "string" ? parsed.detail : `${response.status} ${response.statusText}`;
      throw new GatewayAnswerError(response.status, detail, typeof parsed.fix === "string" ? parsed.fix : null);
    }
    return parsed as T;
  }

  return {
    createPlan: (person, intent, key) => call(person, "POST", "/v1/plans", { intent }, key),
    getPlan: (person, planId) => call(person, "GET", `/v1/plans/${encodeURIComponent(planId)}`),
    explainPlan: (person, planId) => call(person, "GET", `/v1/plans/${encodeURIComponent(planId)}/explain`),
    async decide(person, answer, key) {
      await call(
        person,
        "POST",
        "/v1/approvals",
        {
          plan_id: answer.planId,
          revision: answer.revision,
          digest: answer.digest,
          decision: answer.decision,
          ...(answer.comment === undefined ? {} : { comment: answer.comment }),
        },
        key,
      );
    },
  };
}

/**
 * Deterministic event histories for tests and benchmarks: one "change" is a
 * plan from request to approval and an execution with a tool call and its
 * evidence, 13 events on two aggregates, plus the service it touches.
 */
import { createHash } from "node:crypto";
import { type Actor, type AnyEvent, newEvent } from "../events/index.ts";
import { planRevisionDigest } from "../lib/domain/index.ts";

const operator: Actor = { kind: "user", id: "alice", roles: ["operator"] };
const approver: Actor = { kind: "user", id: "bob", roles: ["approver"] };
const system: Actor = { kind: "service", id: "orchestrator", roles: [] };

/** One append: the events of one command, on one aggregate. */
export type Append = AnyEvent[];

/** Events per change produced by `changeHistory`. */
export const EVENTS_PER_CHANGE = 13;

/**
 * The appends of change number `n`, in causal order. Times are derived from
 * `baseMs` so that histories are reproducible; pass `Date.now()` for live load.
 */
export function changeHistory(n: number, baseMs = Date.UTC(2026, 0, 1), tag = "c"): Append[] {
  const planId = `${tag}-plan-${n}`;
  const executionId = `${tag}-exec-${n}`;
  const service = `svc-${n % 50}`;
  const environment = n % 3 === 0 ? "production" : "staging";
  let t = baseMs + n * 1000;
  const at = () => new Date(t++).toISOString();
  const meta = (actor: Actor, extra: object = {}) => ({
    actor,
    correlation_id: `corr-${tag}-${n}`,
    occurred_at: at(),
    ...extra,
  });
  const step = {
    step_id: "s1",
    action_id: "kubectl.scale",
    input: { namespace: "shop", name: service, replicas: 3 },
    target: { environment, service, namespace: "shop" },
    rationale: "load is up",
    rollback: { action_id: "kubectl.scale", input: { namespace: "shop", name: service, replicas: 2 } },
  };
  const sha = createHash("sha256").update(`${tag}${n}`).digest("hex");
  return [
    [
      newEvent(
        "plan.requested",
        planId,
        { plan_id: planId, intent: `scale ${service}`, source: "api", environment, service },
        meta(operator),
      ),
    ],
    [
      newEvent(
        "plan.proposed",
        planId,
        {
          plan_id: planId,
          revision: 1,
          summary: `scale ${service} to 3`,
          steps: [step, { ...step, step_id: "s2" }],
          planner: { kind: "template" },
        },
        meta(system),
      ),
      newEvent(
        "policy.decided",
        planId,
        {
          plan_id: planId,
          revision: 1,
          decision: "require_approval",
          tier: "T2",
          reasons: ["production write"],
          approvers_required: 1,
          constraints: {},
          ttl_seconds: 3600,
          expires_at: new Date(baseMs + 3_600_000).toISOString(),
          policy_revision: "r1",
          steps: [
            {
              step_id: "s1",
              decision: "require_approval",
              tier: "T2",
              reasons: ["write"],
              approvers_required: 1,
              constraints: {},
            },
            { step_id: "s2", decision: "allow", tier: "T1", reasons: [], approvers_required: 0, constraints: {} },
          ],
        },
        meta(system),
      ),
      newEvent(
        "approval.requested",
        planId,
        {
          plan_id: planId,
          revision: 1,
          approval_id: `${planId}-a1`,
          approvers_required: 1,
          expires_at: new Date(baseMs + 3_600_000).toISOString(),
          channels: ["api"],
        },
        meta(system),
      ),
    ],
    [
      newEvent(
        "approval.granted",
        planId,
        {
          plan_id: planId,
          revision: 1,
          approval_id: `${planId}-a1`,
          approver: "bob",
          channel: "api",
          digest: planRevisionDigest([step, { ...step, step_id: "s2" }]),
        },
        meta(approver),
      ),
    ],
    [
      newEvent(
        "execution.requested",
        executionId,
        { execution_id: executionId, plan_id: planId, revision: 1 },
        meta(operator),
      ),
      newEvent(
        "execution.started",
        executionId,
        { execution_id: executionId, plan_id: planId, workflow_id: executionId },
        meta(system),
      ),
    ],
    [
      newEvent(
        "tool_call.started",
        executionId,
        {
          execution_id: executionId,
          tool_call_id: `${executionId}-t1`,
          step_id: "s1",
          action_id: "kubectl.scale",
          argv: ["kubectl", "scale", `deployment/${service}`, "--replicas=3"],
          binary: "kubectl",
          via: "cli",
          dry_run: false,
        },
        meta(system),
      ),
    ],
    [
      newEvent(
        "tool_call.completed",
        executionId,
        {
          execution_id: executionId,
          tool_call_id: `${executionId}-t1`,
          step_id: "s1",
          status: "succeeded",
          exit_code: 0,
          duration_ms: 412,
          truncated: false,
          stdout_sha256: sha,
          evidence_id: `${executionId}-ev1`,
        },
        meta(system),
      ),
      newEvent(
        "evidence.stored",
        executionId,
        {
          evidence_id: `${executionId}-ev1`,
          owner_type: "execution",
          owner_id: executionId,
          kind: "tool_output",
          uri: `s3://wheelhouse-evidence/${executionId}/t1`,
          sha256: sha,
          size_bytes: 120,
          content_type: "text/plain",
          redacted: false,
        },
        meta(system, { aggregate_type: "execution" }),
      ),
      newEvent(
        "execution.step_completed",
        executionId,
        {
          execution_id: executionId,
          step_id: "s1",
          action_id: "kubectl.scale",
          tool_call_id: `${executionId}-t1`,
          status: "succeeded",
        },
        meta(system),
      ),
    ],
    [
      newEvent(
        "execution.verified",
        executionId,
        { execution_id: executionId, checks: [{ description: "ready replicas = 3", passed: true }] },
        meta(system),
      ),
      newEvent("execution.succeeded", executionId, { execution_id: executionId, plan_id: planId }, meta(system)),
    ],
  ];
}

/** Context events for `count` services (one node and one edge each). */
export function contextHistory(count: number, baseMs = Date.UTC(2026, 0, 1)): Append[] {
  const out: Append[] = [];
  for (let i = 0; i < count; i++) {
    const meta = { actor: system, correlation_id: "context-sync", occurred_at: new Date(baseMs + i).toISOString() };
    out.push([
      newEvent(
        "context.node_upserted",
        `svc-${i}`,
        { node_id: `svc-${i}`, kind: "service", name: `svc-${i}`, environment: "staging" },
        meta,
      ),
      newEvent(
        "context.edge_upserted",
        `svc-${i}`,
        { from_node: `svc-${i}`, to_node: "cluster-1", kind: "runs_in" },
        meta,
      ),
    ]);
  }
  return out;
}

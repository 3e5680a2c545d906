/**
 * What the execution benchmarks (executions.ts, approval-spawn.ts) share: the running system (the
 * embedded process as a child, `test/support/embedded.ts`), an event store on its prefix, one-step
 * plans recorded as the planner would record them, and the HTTP commands a user sends.
 *
 * A plan's `plan.requested` and `plan.proposed` go in one atomic append, so the planner finds the
 * plan already planned and leaves it alone; the system's own policy service then decides it, as
 * for any plan. Everything else goes through the gateway.
 */
import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Actor, type AnyRecordedEvent, newEvent, type PlanStep } from "../../../events/index.ts";
import { planRevisionDigest } from "../../../lib/domain/index.ts";
import { createEventStore, type EventStore } from "../../../lib/eventstore/index.ts";
import { connectTestNats, type EmbeddedSystem, startEmbedded } from "../../../test/support/index.ts";

export const REQUESTER: Actor = { kind: "user", id: "alice", roles: ["operator"] };

export interface BenchSystem {
  readonly system: EmbeddedSystem;
  readonly store: EventStore;
  readonly nc: NatsConnection;
  /** alice: operator, the plans' requester. */
  readonly operator: string;
  /** bob: approver. */
  readonly approver: string;
  stop(): Promise<void>;
}

/** The embedded system with the gateway's rate limit lifted (a bench sends hundreds of commands as one user). */
export async function startBenchSystem(name: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<BenchSystem> {
  const system = await startEmbedded(name, {
    WHEELHOUSE_GATEWAY__RATE_LIMIT_PER_MINUTE: "1000000",
    WHEELHOUSE_LOG__LEVEL: "warn",
    ...extraEnv,
  });
  const nc = await connectTestNats();
  const store = createEventStore({ nc, prefix: system.env.WHEELHOUSE_NATS__PREFIX as string });
  const [operator, approver] = await Promise.all([
    system.token(REQUESTER.id, "operator"),
    system.token("bob", "approver"),
  ]);
  return {
    system,
    store,
    nc,
    operator,
    approver,
    async stop() {
      await nc.close();
      await system.stop();
    },
  };
}

export interface RecordedPlan {
  readonly planId: string;
  readonly digest: string;
}

/** A one-step plan, requested by alice and proposed by the template planner, for policy to decide. */
export async function recordOneStepPlan(
  store: EventStore,
  step: Pick<PlanStep, "action_id" | "input" | "target">,
): Promise<RecordedPlan> {
  const planId = randomUUID();
  const steps: PlanStep[] = [{ step_id: "s1", rationale: "benchmark", ...step }];
  const digest = planRevisionDigest(steps);
  const meta = (actor: Actor) => ({ actor, correlation_id: `bench-${planId}` });
  await store.append(
    [
      newEvent(
        "plan.requested",
        planId,
        {
          plan_id: planId,
          intent: `benchmark ${step.action_id}`,
          source: "api",
          environment: step.target.environment,
          ...(step.target.service ? { service: step.target.service } : {}),
        },
        meta(REQUESTER),
      ),
      newEvent(
        "plan.proposed",
        planId,
        {
          plan_id: planId,
          revision: 1,
          summary: `benchmark ${step.action_id}`,
          steps,
          planner: { kind: "template" },
          digest,
        },
        meta({ kind: "service", id: "planner", roles: [] }),
      ),
    ],
    { expectedVersion: "none" },
  );
  return { planId, digest };
}

/** Policy's decision of revision 1, once it is there (polled: policy decides within milliseconds). */
export async function policyDecision(store: EventStore, planId: string, deadlineMs = 60_000): Promise<string> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const decided = (await store.readAggregate("plan", planId)).find((e) => e.type === "policy.decided");
    if (decided?.type === "policy.decided") return decided.payload.decision;
    if (Date.now() > until) throw new Error(`policy did not decide plan ${planId} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `POST <path>` as `bearer`; throws unless the gateway answers 202. */
export async function command(system: EmbeddedSystem, bearer: string, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${system.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 202) throw new Error(`POST ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}

/** The execution id the gateway derives for a plan's revision 1. */
export const executionIdOf = (planId: string) => `${planId}-r1`;

export const TERMINAL = ["execution.succeeded", "execution.failed", "execution.cancelled"] as const;

/**
 * Events of the given types as they are appended (an ordered consumer from now), kept by aggregate
 * id, with a way to wait for one.
 */
export async function watchEvents(store: EventStore, types: readonly AnyRecordedEvent["type"][]) {
  const seen = new Map<string, AnyRecordedEvent[]>();
  const waiters = new Set<() => void>();
  const live = await store.subscribeLive({
    filterTypes: types,
    handler: (event) => {
      const list = seen.get(event.aggregate_id) ?? [];
      list.push(event);
      seen.set(event.aggregate_id, list);
      for (const wake of waiters) wake();
    },
  });
  return {
    of: (aggregateId: string) => seen.get(aggregateId) ?? [],
    /** Resolves once `ready()` holds, re-checked on every event; rejects after `timeoutMs`. */
    async until(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
      if (ready()) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const check = () => {
          if (!ready()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    stop: () => live.stop(),
  };
}

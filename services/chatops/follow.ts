/**
 * The plan's one Slack message, kept current: posted when policy decides a
 * revision needs approval, updated in place (`chat.update`) whenever the plan
 * moves (an answer from any channel, the Linear issue's link, expiry, the
 * execution: executing, verified, rolled back) with the details as replies in
 * its thread. Where each message is lives in a NATS KV bucket, so a restart
 * or a redelivery posts nothing twice; a thread reply is claimed by its
 * event's id before it is posted.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { type ApprovalView, approvalView, executionStatusOf } from "../../lib/approvals/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { openBucket } from "../../lib/runtime/index.ts";
import { answerReply, approvalMessage, executionReply } from "./messages.ts";

/** Where a plan revision's message is. */
export interface MessageRef {
  readonly channel: string;
  readonly ts: string;
}

export interface MessageStore {
  get(planId: string, revision: number): Promise<MessageRef | null>;
  put(planId: string, revision: number, ref: MessageRef): Promise<void>;
  /** True the first time an event's thread reply is claimed. */
  claimReply(eventId: string): Promise<boolean>;
}

/** The Web API calls ChatOps makes for messages (Bolt's client). */
export interface SlackPoster {
  post(message: { channel: string; text: string; blocks?: unknown[]; threadTs?: string }): Promise<{ ts: string }>;
  update(message: { channel: string; ts: string; text: string; blocks: unknown[] }): Promise<void>;
}

export interface FollowDeps {
  readonly store: EventStore;
  readonly logger: Logger;
  readonly slack: SlackPoster;
  readonly messages: MessageStore;
  /** `chatops.slack.approvals_channel`. */
  readonly channel: string;
  /** `approvals.plan_url` with `{plan_id}`. */
  readonly planUrl: string;
}

/** The event types the message follows. */
export const FOLLOWED_TYPES = [
  "policy.decided",
  "approval.requested",
  "approval.granted",
  "approval.denied",
  "approval.expired",
  "execution.requested",
  "execution.started",
  "execution.verified",
  "execution.verification_failed",
  "execution.rollback_started",
  "execution.rolled_back",
  "execution.succeeded",
  "execution.failed",
  "execution.cancelled",
] as const;

export async function openMessageStore(nc: NatsConnection, bucket: string, replicas: number): Promise<MessageStore> {
  const kv = await openBucket(nc, { bucket, purpose: "Slack message of each plan revision", replicas });
  const key = (planId: string, revision: number) => `msg.${planId}.r${revision}`;
  // Messages this process posted or read, so that updating one costs no bucket read (a message never moves).
  const known = new Map<string, MessageRef>();
  const remember = (k: string, ref: MessageRef) => {
    known.set(k, ref);
    if (known.size > 10_000) known.delete(known.keys().next().value as string);
    return ref;
  };
  return {
    async get(planId, revision) {
      const k = key(planId, revision);
      const hit = known.get(k);
      if (hit) return hit;
      const entry = await kv.get(k);
      return entry && entry.length > 0 ? remember(k, entry.json() as MessageRef) : null;
    },
    async put(planId, revision, ref) {
      await kv.put(key(planId, revision), JSON.stringify(ref));
      remember(key(planId, revision), ref);
    },
    async claimReply(eventId) {
      try {
        await kv.create(`reply.${eventId}`, "");
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** Acts on one followed event. */
export async function followEvent(deps: FollowDeps, event: AnyRecordedEvent): Promise<void> {
  if (event.aggregate_type === "execution") return followExecution(deps, event);
  if (event.aggregate_type !== "plan" || !("revision" in (event.payload as object))) return;
  const { plan_id: planId, revision } = event.payload as { plan_id: string; revision: number };
  const view = approvalView(await deps.store.readAggregate("plan", planId));
  if (!view || view.revision !== revision || view.decision !== "require_approval") return;
  let ref = await deps.messages.get(planId, revision);
  if (!ref) {
    // The message is posted once, for a revision still waiting (a late first delivery of an old one posts nothing).
    if (view.status !== "pending") return;
    const { text, blocks } = approvalMessage(view, { link: link(deps, planId), execution: null });
    const posted = await deps.slack.post({ channel: deps.channel, text, blocks });
    ref = { channel: deps.channel, ts: posted.ts };
    await deps.messages.put(planId, revision, ref);
    deps.logger.info({ plan_id: planId, revision, ts: posted.ts }, "approval message posted in Slack");
    if (event.type === "policy.decided") return;
  }
  // Only an approved revision can have an execution to show.
  const execution = view.status === "approved" ? await executionStatus(deps, planId, revision) : null;
  await refresh(deps, view, ref, execution);
  if (event.type === "approval.granted" || event.type === "approval.denied") {
    await reply(deps, ref, event.id, answerReply(view, event.payload.approver));
  } else if (event.type === "approval.expired") {
    await reply(deps, ref, event.id, `:hourglass: The approval window closed at ${view.deadline}.`);
  }
}

async function followExecution(deps: FollowDeps, event: AnyRecordedEvent): Promise<void> {
  const events = await deps.store.readAggregate("execution", event.aggregate_id);
  const first = events[0];
  if (first?.type !== "execution.requested" || first.payload.dry_run) return;
  const { plan_id: planId, revision } = first.payload;
  const ref = await deps.messages.get(planId, revision);
  if (!ref) return;
  const view = approvalView(await deps.store.readAggregate("plan", planId));
  const status = executionStatusOf(events.filter((e) => e.seq <= event.seq));
  if (!view || view.revision !== revision || !status) return;
  await refresh(deps, view, ref, status);
  await reply(deps, ref, event.id, executionReply(event.aggregate_id, executionStatusOf([event]) ?? status));
}

const link = (deps: FollowDeps, planId: string) => deps.planUrl.replaceAll("{plan_id}", planId);

/**
 * The revision's execution as it stands, so that an update for a plan event never hides it: the
 * execution of a revision has the id the gateway gives it (`<plan>-r<revision>`).
 */
async function executionStatus(deps: FollowDeps, planId: string, revision: number): Promise<string | null> {
  return executionStatusOf(await deps.store.readAggregate("execution", `${planId}-r${revision}`));
}

async function refresh(deps: FollowDeps, view: ApprovalView, ref: MessageRef, execution: string | null) {
  const { text, blocks } = approvalMessage(view, { link: link(deps, view.planId), execution });
  await deps.slack.update({ channel: ref.channel, ts: ref.ts, text, blocks });
}

async function reply(deps: FollowDeps, ref: MessageRef, eventId: string, text: string) {
  if (await deps.messages.claimReply(eventId)) await deps.slack.post({ channel: ref.channel, threadTs: ref.ts, text });
}

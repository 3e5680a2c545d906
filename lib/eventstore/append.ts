/**
 * Appending to the event store: one aggregate's events per call, deduplicated by idempotency key,
 * guarded by the aggregate's expected version, several events as one atomic batch (ADR-50).
 * Output chunks (`tool_call.output`) go to the output stream, one ack each.
 */
import { type MsgHdrs, headers as natsHeaders, nuid } from "@nats-io/transport-node";
import type { AnyEvent } from "../../events/index.ts";
import { ConflictError, ForbiddenError, UnavailableError, ValidationError, WheelhouseError } from "../errors/index.ts";
import { encodeEvent } from "./codec.ts";
import { aggregateVersion, eventSubject, findRetry, outputSubject, type StoreContext } from "./reads.ts";

/** Event types that go to the output stream instead of the audit-critical one. */
export const OUTPUT_EVENT_TYPES: ReadonlySet<string> = new Set(["tool_call.output"]);

/** Most events the server accepts in one atomic batch (server default `max_msgs`). */
export const MAX_BATCH = 1000;

export interface AppendOptions {
  /**
   * The aggregate's version as the caller last read it: its last subject
   * sequence, `0` or `"none"` when it must not exist yet. A mismatch throws
   * `ConflictError` with `extra.current_version` and appends nothing.
   */
  readonly expectedVersion?: number | "none" | undefined;
  /**
   * Deduplicates retries within the stream's duplicate window: event `i` gets
   * `Nats-Msg-Id: <key>:<i>`. A retry returns the original sequences with
   * `duplicate: true`.
   */
  readonly idempotencyKey?: string | undefined;
}

/** What the event store recorded for one append. */
export interface AppendOutcome {
  /** Stream sequence of each appended event, in order. */
  readonly seqs: number[];
  /** The aggregate's version after the append (the last event's sequence). */
  readonly version: number;
  /** True when the idempotency key had been used: nothing new was written. */
  readonly duplicate: boolean;
}

/** `wrong last sequence: N` (expected last subject sequence mismatch). */
const ERR_WRONG_LAST_SEQUENCE = 10071;
/** An atomic batch carried a `Nats-Msg-Id` already in the duplicate window. */
const ERR_BATCH_DUPLICATE_MSG_ID = 10201;

interface PubAckJson {
  stream: string;
  seq: number;
  duplicate?: boolean;
  batch?: string;
  count?: number;
  error?: { code: number; err_code: number; description: string };
}

/** An append the store will attempt, checked. */
interface CheckedAppend {
  readonly first: AnyEvent;
  readonly output: boolean;
  readonly key: string | undefined;
  readonly expected: number | undefined;
}

/** Refuses what no server would store: no events, too many, several aggregates, a bad key or version. */
function checkAppend(events: readonly AnyEvent[], opts: AppendOptions): CheckedAppend {
  const first = events[0];
  if (first === undefined) {
    throw new ValidationError("append needs at least one event", { field: "events", fix: "pass one or more events" });
  }
  if (events.length > MAX_BATCH) {
    throw new ValidationError(`append takes at most ${MAX_BATCH} events, got ${events.length}`, {
      field: "events",
      fix: "split the command into several appends",
    });
  }
  const output = OUTPUT_EVENT_TYPES.has(first.type);
  for (const [i, e] of events.entries()) {
    if (e.aggregate_type !== first.aggregate_type || e.aggregate_id !== first.aggregate_id) {
      throw new ValidationError("all events of one append must belong to one aggregate", {
        field: `events[${i}].aggregate_id`,
        fix: `append events of ${e.aggregate_type}/${e.aggregate_id} separately`,
      });
    }
    if (OUTPUT_EVENT_TYPES.has(e.type) !== output) {
      throw new ValidationError("output chunks and other events cannot be appended together", {
        field: `events[${i}].type`,
        fix: "append tool_call.output events on their own",
      });
    }
  }
  const key = opts.idempotencyKey;
  if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new ValidationError("idempotency key must be 1-200 printable ASCII characters without spaces", {
      field: "idempotency_key",
      fix: "use a UUID or a similar opaque token",
    });
  }
  const expected = opts.expectedVersion === "none" ? 0 : opts.expectedVersion;
  if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
    throw new ValidationError(`expectedVersion must be a non-negative integer, got ${expected}`, {
      field: "expected_version",
      fix: "pass the version returned by the last read or append, or 0 for a new aggregate",
    });
  }
  return { first, output, key, expected };
}

/**
 * The server refused the publish because of the connection's NATS user (its publish allow-list),
 * found in the error's causes; `null` for anything else.
 */
export function permissionViolation(error: unknown): (Error & { operation?: string; subject?: string }) | null {
  for (let e = error as (Error & { cause?: unknown }) | undefined; e; e = e.cause as typeof e) {
    if (e.name === "PermissionViolationError") return e;
  }
  return null;
}

/**
 * Whether `error` (or one of its causes) is NATS not answering: a timeout, no responders, JetStream
 * unavailable (a leader election, the nodes holding a stream down). Retrying later can help.
 */
export function isNoAnswer(error: unknown): boolean {
  for (let e = error as (Error & { cause?: unknown; code?: unknown }) | undefined; e; e = e.cause as typeof e) {
    if (e.name === "TimeoutError" || e.name === "NoRespondersError") return true;
    if (e.code === 503 || e.code === "503" || e.code === 10008) return true;
    if (/no responders|timeout|temporarily unavailable/i.test(e.message ?? "")) return true;
  }
  return false;
}

/** A publish that JetStream acknowledges (or refuses) in its reply. */
async function publishRequest(
  ctx: StoreContext,
  subject: string,
  data: Uint8Array,
  h: MsgHdrs,
  event: AnyEvent,
): Promise<PubAckJson> {
  try {
    const reply = await ctx.nc.request(subject, data, { headers: h, timeout: ctx.publishTimeoutMs });
    return reply.json<PubAckJson>();
  } catch (cause) {
    if (permissionViolation(cause)) {
      // Retrying cannot help: the server refuses this subject to this user.
      throw new ForbiddenError(
        `NATS refused the append to ${subject}: this process's NATS user may not publish ${event.aggregate_type} events`,
        {
          cause,
          field: "nats.credentials",
          fix: `the service's NATS user lacks publish permission for the ${event.aggregate_type} aggregate (${subject.split(".").slice(0, 3).join(".")}.*): record ${event.type} from the service that owns that aggregate, or add the subject to that user's publish allow-list (scripts/nats-auth.ts for the local stack)`,
          extra: { subject, aggregate_type: event.aggregate_type, event_type: event.type },
        },
      );
    }
    throw new UnavailableError(`JetStream did not acknowledge the append to ${subject}`, {
      cause,
      fix: "retry with the same idempotency key; the append is deduplicated",
    });
  }
}

/** Appends `events` (one aggregate's) to the events stream, or their output chunks to the output stream. */
export async function appendEvents(
  ctx: StoreContext,
  events: readonly AnyEvent[],
  opts: AppendOptions = {},
): Promise<AppendOutcome> {
  const { first, output, key, expected } = checkAppend(events, opts);
  if (output) return appendOutput(ctx, events, key);

  const subject = eventSubject(ctx.prefix, first.aggregate_type, first.aggregate_id);
  let ack: PubAckJson;
  if (events.length === 1) {
    const h = natsHeaders();
    if (key !== undefined) h.set("Nats-Msg-Id", `${key}:0`);
    if (expected !== undefined) h.set("Nats-Expected-Last-Subject-Sequence", String(expected));
    ack = await publishRequest(ctx, subject, encodeEvent(first), h, first);
  } else {
    // One round trip: every message but the last is a plain publish; the
    // commit is a request whose pub ack (or error) covers the whole batch.
    const batchId = nuid.next();
    for (let i = 0; i < events.length; i++) {
      const h = natsHeaders();
      h.set("Nats-Batch-Id", batchId);
      h.set("Nats-Batch-Sequence", String(i + 1));
      if (key !== undefined) h.set("Nats-Msg-Id", `${key}:${i}`);
      // Only the first message may carry the check: later ones write the same subject (ADR-50).
      if (i === 0 && expected !== undefined) h.set("Nats-Expected-Last-Subject-Sequence", String(expected));
      const data = encodeEvent(events[i] as AnyEvent);
      if (i < events.length - 1) {
        ctx.nc.publish(subject, data, { headers: h });
      } else {
        h.set("Nats-Batch-Commit", "1");
        ack = await publishRequest(ctx, subject, data, h, first);
      }
    }
  }
  // biome-ignore lint/style/noNonNullAssertion: assigned in both branches above (the loop always reaches its last message)
  const result = ack!;
  if (result.error) return refused(ctx, result.error, { first, subject, key, expected, count: events.length });
  const last = result.seq;
  const seqs = events.length === 1 ? [last] : events.map((_, i) => last - events.length + 1 + i);
  return { seqs, version: last, duplicate: result.duplicate === true };
}

/**
 * JetStream refused the append: a retry of one already stored (answered as a duplicate), a reused
 * idempotency key or a version conflict (`ConflictError`), or anything else (`append_rejected`).
 */
async function refused(
  ctx: StoreContext,
  error: NonNullable<PubAckJson["error"]>,
  append: {
    first: AnyEvent;
    subject: string;
    key: string | undefined;
    expected: number | undefined;
    count: number;
  },
): Promise<AppendOutcome> {
  const { first, subject, key, expected } = append;
  const code = error.err_code;
  if (code !== ERR_WRONG_LAST_SEQUENCE && code !== ERR_BATCH_DUPLICATE_MSG_ID) {
    throw new WheelhouseError("append_rejected", `JetStream rejected the append: ${error.description}`, {
      extra: { err_code: code },
    });
  }
  // The server checks the expected sequence before deduplication, so a
  // retry of a guarded append looks like a conflict: look for the retry first.
  if (key !== undefined) {
    const seqs = await findRetry(ctx, subject, key, append.count, expected ?? 0);
    if (seqs) return { seqs, version: seqs[seqs.length - 1] as number, duplicate: true };
  }
  if (code === ERR_BATCH_DUPLICATE_MSG_ID) {
    throw new ConflictError("idempotency key was already used for a different request", {
      field: "idempotency_key",
      fix: "use a new idempotency key for a new request",
    });
  }
  const current = Number(/(\d+)\s*$/.exec(error.description)?.[1] ?? Number.NaN);
  const currentVersion = Number.isFinite(current)
    ? current
    : await aggregateVersion(ctx, first.aggregate_type, first.aggregate_id);
  throw new ConflictError(
    `${first.aggregate_type} ${first.aggregate_id} is at version ${currentVersion}, not ${expected}`,
    {
      field: "expected_version",
      fix: "read the aggregate again and retry the command against its current version",
      extra: { current_version: currentVersion, expected_version: expected },
    },
  );
}

async function appendOutput(
  ctx: StoreContext,
  events: readonly AnyEvent[],
  key: string | undefined,
): Promise<AppendOutcome> {
  const first = events[0] as AnyEvent;
  const subject = outputSubject(ctx.prefix, first.aggregate_type, first.aggregate_id);
  // Output chunks are a log, not a decision: no atomic batch (async streams refuse them), one ack each.
  const acks = await Promise.all(
    events.map((e, i) => {
      const h = natsHeaders();
      if (key !== undefined) h.set("Nats-Msg-Id", `${key}:${i}`);
      return publishRequest(ctx, subject, encodeEvent(e), h, e);
    }),
  );
  const seqs: number[] = [];
  for (const a of acks) {
    if (a.error) {
      throw new WheelhouseError("append_rejected", `JetStream rejected an output chunk: ${a.error.description}`);
    }
    seqs.push(a.seq);
  }
  return { seqs, version: seqs[seqs.length - 1] as number, duplicate: acks.every((a) => a.duplicate === true) };
}

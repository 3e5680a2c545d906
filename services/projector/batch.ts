/**
 * A batch of stream messages: decoded, folded through every projection's writer into statements
 * (`prepare`), and applied with its checkpoints in one transaction (`commitBatch`).
 */
import type pg from "pg";
import { type AnyRecordedEvent, UnknownEventTypeError } from "../../events/index.ts";
import type { SqlClient, Statement } from "../../lib/db/sql.ts";
import { decodeRecorded, type RawStreamMessage } from "../../lib/eventstore/index.ts";
import { runStatements, type UnprojectedEntry } from "../../projections/types.ts";
import { advanced, behind, type CheckpointMap, minOf, sameCheckpoints } from "./checkpoints.ts";
import { describe, type ProjectorContext, resetWriters } from "./context.ts";
import { CONSUMER, deadLettersStatement, type Letter } from "./dead-letters.ts";

/** One decoded stream message; `event` null when it could not be projected (`reason` says why). */
export interface Item {
  readonly raw: RawStreamMessage;
  readonly event: AnyRecordedEvent | null;
  readonly reason: "decode_error" | "unknown_type" | null;
  readonly error: unknown;
}

export interface Batch {
  readonly items: readonly Item[];
  /**
   * The sequence this projector's reader delivered just before the batch (its start point for the
   * first batch). Every projection's checkpoint must be at least this when the batch is applied;
   * a lower one was set back by someone else (a rebuild in another process), and applying the
   * batch would move it past events it never got.
   */
  readonly prevSeq: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly size: number;
  readonly lastOccurredAt: string | null;
}

/** A batch folded and ready to write, on the assumption that the checkpoints are `expected`. */
export interface Prepared {
  readonly expected: CheckpointMap;
  readonly statements: Statement[];
  readonly letters: Letter[];
}

/** How a batch's transaction ended. */
export type Outcome =
  | { readonly kind: "committed"; readonly letters: Letter[]; readonly checkpoints: Map<string, number> }
  /** The checkpoints were not where the prepared batch assumed: nothing written. */
  | { readonly kind: "stale" }
  /** A checkpoint was set back below the batch's start: nothing written. */
  | { readonly kind: "behind"; readonly projection: string; readonly checkpoint: number }
  | { readonly kind: "failed"; readonly error: unknown };

function decode(ctx: ProjectorContext, raw: RawStreamMessage): Item {
  try {
    const event = decodeRecorded(raw.data, { seq: raw.seq, stream: ctx.store.streams.events, subject: raw.subject });
    return { raw, event, reason: null, error: null };
  } catch (e) {
    if (e instanceof UnknownEventTypeError) {
      ctx.logger?.warn({ seq: raw.seq, type: e.eventType }, "skipping event of unknown type");
      return { raw, event: null, reason: "unknown_type", error: e };
    }
    return { raw, event: null, reason: "decode_error", error: e };
  }
}

/** Decodes what the reader delivered after `prevSeq`. */
export function toBatch(ctx: ProjectorContext, raw: readonly RawStreamMessage[], prevSeq: number): Batch {
  const items = raw.map((r) => decode(ctx, r));
  const lastEvent = items.findLast((it) => it.event !== null)?.event ?? null;
  return {
    items,
    prevSeq,
    firstSeq: raw[0]?.seq ?? 0,
    lastSeq: raw[raw.length - 1]?.seq ?? 0,
    size: raw.length,
    lastOccurredAt: lastEvent?.occurred_at ?? null,
  };
}

/** What a projection that records everything (the audit trail) keeps of a message it could not project. */
export function unprojected(ctx: ProjectorContext, it: Item, reason: string, error: unknown): UnprojectedEntry {
  return {
    kind: "unprojected",
    stream: ctx.store.streams.events,
    seq: it.raw.seq,
    subject: it.raw.subject,
    data: it.raw.data,
    timeMs: it.raw.timeMs,
    reason,
    error: describe(error),
  };
}

/**
 * Folds a batch through every writer, on top of checkpoints `cps`, reading what is missing through
 * `reader`. `speculative`: another batch's transaction is in flight, so yield between projections.
 */
export async function prepare(
  ctx: ProjectorContext,
  batch: Batch,
  reader: SqlClient,
  cps: CheckpointMap,
  speculative = false,
): Promise<Prepared> {
  const statements: Statement[] = [];
  for (const p of ctx.projections) {
    const from = cps.get(p.name) ?? 0;
    const events: AnyRecordedEvent[] = [];
    const missed: UnprojectedEntry[] = [];
    for (const it of batch.items) {
      if (it.raw.seq <= from) continue;
      if (it.event) {
        if (p.handles.has(it.event.type)) events.push(it.event);
      } else if (p.recordsUnprojected) {
        missed.push(unprojected(ctx, it, it.reason ?? "decode_error", it.error));
      }
    }
    if (events.length === 0 && missed.length === 0) continue;
    const writer = ctx.writers.get(p.name);
    if (writer) statements.push(...(await writer.prepare(reader, events, missed)));
    // Let the batch in flight make progress: its round trips are answered only when Node is free.
    if (speculative) await new Promise((resolve) => setImmediate(resolve));
  }
  const minCp = minOf(cps);
  const letters = batch.items
    .filter((it) => it.reason === "decode_error" && it.raw.seq > minCp)
    .map((it) => ({ consumer: CONSUMER, item: it, error: it.error }));
  return { expected: cps, statements, letters };
}

/**
 * One transaction for the batch. With `prepared`, the checkpoints must be
 * where it assumed (else "stale", nothing written); without, the batch is
 * folded cold inside the transaction from what Postgres holds.
 */
export async function commitBatch(
  ctx: ProjectorContext,
  client: pg.Client,
  batch: Batch,
  prepared: Prepared | null,
): Promise<Outcome> {
  try {
    const cps = await ctx.checkpoints.beginAndLock(client);
    const gap = behind(cps, batch.prevSeq);
    if (gap) {
      await client.query("ROLLBACK");
      return { kind: "behind", projection: gap[0], checkpoint: gap[1] };
    }
    if (prepared && !sameCheckpoints(cps, prepared.expected)) {
      await client.query("ROLLBACK");
      return { kind: "stale" };
    }
    let plan = prepared;
    if (!plan) {
      resetWriters(ctx);
      plan = await prepare(ctx, batch, client, cps);
    }
    const letters = deadLettersStatement(ctx, plan.letters);
    await runStatements(
      client,
      combineStatements([
        ...plan.statements,
        ...(letters ? [letters] : []),
        ctx.checkpoints.advanceStatement(batch.lastSeq, batch.lastOccurredAt),
      ]),
    );
    await client.query("COMMIT");
    return { kind: "committed", letters: plan.letters, checkpoints: advanced(cps, batch.lastSeq) };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    return { kind: "failed", error };
  }
}

/**
 * Fewer round trips: consecutive INSERTs/UPDATEs on distinct tables become
 * one statement (data-modifying CTEs, each run exactly once), with their
 * parameters renumbered. A statement on a table already in the group, or
 * anything else (a DELETE), starts a new group, because one statement must
 * not touch the same row twice.
 */
export function combineStatements(statements: readonly Statement[]): Statement[] {
  const out: Statement[] = [];
  let group: Statement[] = [];
  const tables = new Set<string>();
  const flush = () => {
    if (group.length === 1) out.push(group[0] as Statement);
    else if (group.length > 1) {
      let offset = 0;
      const parts = group.map((s, i) => {
        const at = offset;
        offset += s.values.length;
        return `w${i} AS (${s.text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + at}`)})`;
      });
      out.push({ text: `WITH ${parts.join(",\n")}\nSELECT 1`, values: group.flatMap((s) => s.values) });
    }
    group = [];
    tables.clear();
  };
  for (const s of statements) {
    const target = /^\s*(?:INSERT\s+INTO|UPDATE)\s+"?([A-Za-z_]\w*)"?/i.exec(s.text)?.[1];
    if (target === undefined) {
      flush();
      out.push(s);
      continue;
    }
    if (tables.has(target)) flush();
    group.push(s);
    tables.add(target);
  }
  flush();
  return out;
}

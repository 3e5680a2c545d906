/**
 * The slow path, after a batch failed: one event per transaction, each projection in its own
 * savepoint, retried with backoff, then dead-lettered for the projection that failed on it. As
 * long as Postgres answers, an event is passed once its retries are spent, if need be in a last,
 * minimal form (`lastResort`); an unreachable Postgres is thrown to the loop, which starts over.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { SqlClient } from "../../lib/db/sql.ts";
import { type Projection, runStatements, type UnprojectedEntry } from "../../projections/types.ts";
import { type Batch, type Item, unprojected } from "./batch.ts";
import { assertNotBehind, CheckpointBehindError, minOf } from "./checkpoints.ts";
import { describe, type ProjectorContext, sleep } from "./context.ts";
import { CONSUMER, consumerOf, type Letter, recordDeadLetters } from "./dead-letters.ts";

/** The projector was asked to stop between two events of a batch it was applying one by one. */
export class StopRequestedError extends Error {
  constructor() {
    super("projector stopping");
    this.name = "StopRequestedError";
  }
}

/**
 * Applies `batch` event by event, then moves the checkpoints to its end (sequences after its last
 * item still count as applied). Returns the letters recorded, to publish once committed.
 */
export async function applyEventByEvent(
  ctx: ProjectorContext,
  client: pg.Client,
  batch: Batch,
  signal: AbortSignal,
): Promise<Letter[]> {
  const all: Letter[] = [];
  let prevSeq = batch.prevSeq;
  for (const it of batch.items) {
    // Each event commits on its own, so stopping between two leaves the checkpoints exact.
    if (signal.aborted) throw new StopRequestedError();
    all.push(...(await applyOne(ctx, client, it, prevSeq, signal)));
    prevSeq = it.raw.seq;
  }
  await client.query("BEGIN");
  try {
    assertNotBehind(await ctx.checkpoints.lock(client), batch.lastSeq);
  } catch (e) {
    await client.query("ROLLBACK");
    throw e;
  }
  await ctx.checkpoints.advance(client, batch.lastSeq, null);
  await client.query("COMMIT");
  return all;
}

/** One event in its own transaction, retried; after the last retry, `lastResort`. */
async function applyOne(
  ctx: ProjectorContext,
  client: pg.Client,
  it: Item,
  prevSeq: number,
  signal: AbortSignal,
): Promise<Letter[]> {
  const { retryBackoff, logger } = ctx;
  for (let attempt = 0; ; attempt++) {
    const last = attempt >= retryBackoff.length;
    try {
      await client.query("BEGIN");
      const cps = await ctx.checkpoints.lock(client);
      assertNotBehind(cps, prevSeq);
      const out: Letter[] = [];
      if (it.event === null && it.reason === "decode_error" && it.raw.seq > minOf(cps)) {
        out.push({ consumer: CONSUMER, item: it, error: it.error });
      }
      for (const p of ctx.projections) {
        if (it.raw.seq <= (cps.get(p.name) ?? 0)) continue;
        const letter = await applyToProjection(ctx, client, p, it, last);
        if (letter) out.push(letter);
      }
      await recordDeadLetters(ctx, client, out);
      await ctx.checkpoints.advance(client, it.raw.seq, it.event?.occurred_at ?? null);
      await client.query("COMMIT");
      return out;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      if (e instanceof CheckpointBehindError) throw e;
      // Postgres not answering is no reason to pass an event: start over from the checkpoints.
      if (!(await answers(client))) throw e;
      if (last) return lastResort(ctx, client, it, prevSeq, e);
      logger?.warn({ seq: it.raw.seq, attempt: attempt + 1, err: describe(e) }, "event failed; retrying");
      await sleep(retryBackoff[attempt] ?? 1000, signal);
    }
  }
}

/**
 * One projection's fold of one message, in a savepoint so that one failing read model does not
 * undo the others. A failure is thrown (the event is retried) unless this is the `last` attempt:
 * then it is the projection's dead letter.
 */
async function applyToProjection(
  ctx: ProjectorContext,
  client: pg.Client,
  p: Projection,
  it: Item,
  last: boolean,
): Promise<Letter | null> {
  const event = it.event;
  if (event === null) {
    if (!p.recordsUnprojected) return null;
    try {
      await inSavepoint(client, () => applyFresh(client, p, [], [unprojected(ctx, it, it.reason ?? "", it.error)]));
      return null;
    } catch (e) {
      if (!last) throw e;
      return { consumer: consumerOf(p.name), item: it, error: e };
    }
  }
  if (!p.handles.has(event.type)) return null;
  try {
    await inSavepoint(client, () => applyFresh(client, p, [event], []));
    return null;
  } catch (e) {
    if (!last) throw e;
    let error = e;
    if (p.recordsUnprojected) {
      // The trail still records that the event exists, with why it could not be projected.
      try {
        await inSavepoint(client, () => applyFresh(client, p, [], [unprojected(ctx, it, "handler_failed", e)]));
      } catch (again) {
        error = new Error(`${describe(e)}; recording it as not projected failed too: ${describe(again)}`);
      }
    }
    return { consumer: consumerOf(p.name), item: it, error };
  }
}

/** Whether Postgres still answers on `client` (a failure was about the data, not the connection). */
async function answers(client: pg.Client): Promise<boolean> {
  try {
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  }
}

/**
 * An event whose transaction failed every time, its dead-letter records included: record it in the
 * smallest form that holds no byte of it (where it is, its digest, the error) for every projection
 * that had not passed it, and move the checkpoints past it. Throws only if even that fails.
 */
async function lastResort(
  ctx: ProjectorContext,
  client: pg.Client,
  it: Item,
  prevSeq: number,
  error: unknown,
): Promise<Letter[]> {
  const digest = createHash("sha256").update(it.raw.data).digest("hex");
  const why = new Error(
    `${describe(error)} (message sha256 ${digest}, ${it.raw.data.byteLength} bytes, not stored in Postgres)`,
  );
  // What the audit trail records: the position and the error, none of the message's bytes.
  const bare: Item = { ...it, raw: { ...it.raw, data: new Uint8Array(0) } };
  try {
    await client.query("BEGIN");
    const cps = await ctx.checkpoints.lock(client);
    assertNotBehind(cps, prevSeq);
    const out: Letter[] = [];
    for (const p of ctx.projections) {
      if (it.raw.seq <= (cps.get(p.name) ?? 0)) continue;
      const concerned = p.recordsUnprojected || (it.event !== null && p.handles.has(it.event.type));
      if (!concerned) continue;
      let error: Error = why;
      if (p.recordsUnprojected) {
        try {
          await inSavepoint(client, () => applyFresh(client, p, [], [unprojected(ctx, bare, "store_failed", why)]));
        } catch (e) {
          error = new Error(`${why.message}; its record in ${p.name} failed too: ${describe(e)}`);
        }
      }
      out.push({ consumer: consumerOf(p.name), item: it, error, reason: "store_failed", withoutData: true });
    }
    await recordDeadLetters(ctx, client, out);
    await ctx.checkpoints.advance(client, it.raw.seq, it.event?.occurred_at ?? null);
    await client.query("COMMIT");
    ctx.logger?.error(
      { seq: it.raw.seq, err: why.message },
      "event not storable even as a dead letter; recorded without it",
    );
    return out;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

/** A projection's fold for the slow path: a fresh writer, holding nothing. */
async function applyFresh(
  client: SqlClient,
  p: Projection,
  events: AnyRecordedEvent[],
  missed: UnprojectedEntry[],
): Promise<void> {
  await runStatements(client, await p.createWriter().prepare(client, events, missed));
}

async function inSavepoint(client: SqlClient, fn: () => Promise<void>): Promise<void> {
  await client.query("SAVEPOINT projection");
  try {
    await fn();
    await client.query("RELEASE SAVEPOINT projection");
  } catch (e) {
    await client.query("ROLLBACK TO SAVEPOINT projection");
    throw e;
  }
}

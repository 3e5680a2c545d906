/**
 * The fast path: batches are pipelined. While batch N's transaction runs in Postgres, batch N+1 is
 * decoded, folded and hashed in Node on top of N's (not yet committed) result, reading what its
 * writers lack through a second connection. That is safe because the transaction of N+1 first
 * locks the checkpoints and checks they are exactly where this projector left them; if anything
 * failed or anyone else moved them, the prepared work is thrown away, every writer forgets what
 * it holds, and the batch is applied again "cold", reading its state inside the transaction (and,
 * should that fail too, event by event: slow-path.ts).
 */
import type pg from "pg";
import type { RawStreamMessage } from "../../lib/eventstore/index.ts";
import { type Batch, commitBatch, type Outcome, type Prepared, prepare, toBatch } from "./batch.ts";
import { advanced, CheckpointBehindError } from "./checkpoints.ts";
import { describe, type ProjectorContext, resetWriters } from "./context.ts";
import type { Letter } from "./dead-letters.ts";
import { applyEventByEvent } from "./slow-path.ts";

export interface PipelineSession {
  /** The transaction connection. */
  readonly client: pg.Client;
  /** A second connection, for the reads of a batch prepared while a transaction is in flight. */
  readonly reader: pg.Client;
  /** The lowest checkpoint when reading started: the reader delivers from `from + 1`. */
  readonly from: number;
  /** The projector is stopping. */
  readonly signal: AbortSignal;
  /** Stops the reader: the batch in flight failed beyond recovery, and the loop must start over. */
  readonly stopReading: () => void;
  /** A batch committed (checkpoints included); `letters` are to be published. */
  readonly committed: (batch: Batch, letters: readonly Letter[]) => Promise<void>;
}

export interface Pipeline {
  /** Applies the next batch the reader delivered: prepared while the previous one commits, or cold. */
  take(raw: readonly RawStreamMessage[]): Promise<void>;
  /** Waits for the batch in flight; throws what made it fail beyond recovery. */
  drain(): Promise<void>;
}

export function createPipeline(ctx: ProjectorContext, session: PipelineSession): Pipeline {
  const { client, reader, signal, committed } = session;
  // `expected`: the checkpoints once everything handed to Postgres has committed; null = fold cold.
  let expected: Map<string, number> | null = null;
  // Writers are used by one fold at a time (a batch being prepared, or a recovery); `generation`
  // counts the resets, so a batch prepared across one is thrown away.
  let writersBusy: Promise<unknown> = Promise.resolve();
  let generation = 0;
  const withWriters = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = writersBusy.then(fn);
    writersBusy = run.catch(() => {});
    return run;
  };
  /** The batch whose transaction runs while the next one is prepared; resolves false when it did not commit as prepared. */
  let inflight: Promise<boolean> | null = null;
  /** The last sequence this reader delivered. */
  let readerAt = session.from;

  const forget = () => {
    generation++;
    expected = null;
    resetWriters(ctx);
  };

  /** Applies a batch folded inside its own transaction; on failure, event by event. */
  async function applyCold(batch: Batch, earlier: Outcome | null): Promise<void> {
    const result = earlier ?? (await commitBatch(ctx, client, batch, null));
    if (result.kind === "committed") {
      expected = result.checkpoints;
      await committed(batch, result.letters);
      return;
    }
    forget();
    if (result.kind === "behind") {
      throw new CheckpointBehindError(result.projection, result.checkpoint, batch.prevSeq);
    }
    if (result.kind === "stale") {
      ctx.logger?.info({ first: batch.firstSeq }, "checkpoints moved under the projector; applying the batch cold");
      return applyCold(batch, null);
    }
    ctx.logger?.warn(
      { first: batch.firstSeq, last: batch.lastSeq, err: describe(result.error) },
      "batch failed; applying event by event",
    );
    await committed(batch, await applyEventByEvent(ctx, client, batch, signal));
  }

  /** Folds the batch on top of what is in flight; null when there is nothing to build on, or the fold failed. */
  async function prepareAhead(batch: Batch): Promise<Prepared | null> {
    const assumed = expected;
    if (assumed === null) return null;
    try {
      const prepared = await withWriters(() => prepare(ctx, batch, reader, assumed, true));
      expected = advanced(assumed, batch.lastSeq);
      return prepared;
    } catch (e) {
      // A fold that throws (or a failed read) leaves the writers half-updated: forget what they hold,
      // and let the batch go the cold way, where a failure is retried and dead-lettered per event.
      ctx.logger?.warn({ first: batch.firstSeq, err: describe(e) }, "preparing a batch failed; applying it cold");
      generation++;
      expected = null;
      await withWriters(async () => resetWriters(ctx));
      return null;
    }
  }

  return {
    async take(raw) {
      const batch = toBatch(ctx, raw, readerAt);
      readerAt = batch.lastSeq;
      const generationBefore = generation;
      // Fold the next batch while the previous one's transaction runs (reads go to the other connection).
      let prepared = await prepareAhead(batch);
      const previousCommitted = inflight === null ? true : await inflight;
      inflight = null;
      if (!previousCommitted || generation !== generationBefore) prepared = null;
      if (prepared === null) {
        await withWriters(() => applyCold(batch, null));
        return;
      }
      const plan = prepared;
      inflight = commitBatch(ctx, client, batch, plan).then(async (result) => {
        if (result.kind === "committed") {
          await committed(batch, result.letters);
          return true;
        }
        // Recover at once (the stream may stay quiet), holding the writers.
        await withWriters(() => applyCold(batch, result));
        return false;
      });
      // Awaited by the next batch or on the way out; this only keeps a failure from being "unhandled" meanwhile.
      inflight.catch(session.stopReading);
    },
    async drain() {
      if (inflight) await inflight;
    },
  };
}

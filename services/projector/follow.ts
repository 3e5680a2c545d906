/**
 * The projector's loop: open its connections, bind the checkpoints to the stream, read the stream
 * from the lowest checkpoint + 1 through the pipeline, and start over when anything fails (at
 * once when a checkpoint was set back; otherwise backing off, up to 30 s), until stopped.
 */
import type pg from "pg";
import { readRawBatches } from "../../lib/eventstore/index.ts";
import type { Batch } from "./batch.ts";
import { CheckpointBehindError } from "./checkpoints.ts";
import { connectClient, describe, type ProjectorContext, resetWriters, sleep } from "./context.ts";
import type { Letter } from "./dead-letters.ts";
import { createPipeline } from "./pipeline.ts";
import { StopRequestedError } from "./slow-path.ts";
import { bindToStream, StreamChangedError } from "./stream-identity.ts";

export interface FollowHooks {
  /** Reading (re)starts after `from`, the lowest checkpoint. */
  readonly started: (from: number) => void;
  /** A batch committed; `letters` are its dead letters, to publish. */
  readonly committed: (batch: Batch, letters: readonly Letter[]) => Promise<void>;
}

interface Connections {
  /** The transaction connection. */
  readonly tx: pg.Client;
  /** For reads while a transaction is in flight. */
  readonly read: pg.Client;
}

/** Follows the stream into the read models until `signal` aborts; closes its connections on the way out. */
export async function followStream(ctx: ProjectorContext, signal: AbortSignal, hooks: FollowHooks): Promise<void> {
  /** Consecutive failed starts of the loop: the wait before the next one doubles, up to 30 s. */
  let failures = 0;
  let conns: Connections | null = null;
  try {
    while (!signal.aborted) {
      try {
        await closeConnections(conns);
        conns = null;
        conns = await openConnections(ctx);
        await readOnce(ctx, conns, signal, hooks, () => {
          failures = 0;
        });
      } catch (e) {
        resetWriters(ctx);
        if (signal.aborted || e instanceof StopRequestedError) break;
        if (e instanceof CheckpointBehindError) {
          // Someone set a checkpoint back (a rebuild elsewhere): follow again from the lowest one, at once.
          ctx.logger?.info({ err: describe(e) }, "a checkpoint was set back; reading the stream again from it");
          continue;
        }
        failures++;
        const waitMs = Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5));
        if (e instanceof StreamChangedError) {
          // Never read on from checkpoints of another stream; wait for a rebuild, a restart or the old stream.
          ctx.logger?.error(
            { err: e.message, fix: e.fix, retry_ms: waitMs },
            "read models belong to another events stream",
          );
        } else {
          ctx.logger?.error(
            { err: describe(e), retry_ms: waitMs },
            "projector loop failed; restarting from the checkpoints",
          );
        }
        await sleep(waitMs, signal);
      }
    }
  } finally {
    await closeConnections(conns);
  }
}

/** One pass: bind, read from the lowest checkpoint, apply every batch; returns when stopped. */
async function readOnce(
  ctx: ProjectorContext,
  { tx: client, read: reader }: Connections,
  signal: AbortSignal,
  hooks: FollowHooks,
  applied: () => void,
): Promise<void> {
  await ctx.checkpoints.ensure(client);
  await bindToStream(ctx, client, false);
  resetWriters(ctx);
  const from = await ctx.checkpoints.lowest(client);
  hooks.started(from);
  // Stops this reader on shutdown, or when the batch in flight failed beyond recovery (the stream may stay
  // quiet, so waiting for the next batch to notice could take forever): the loop then starts over.
  const reading = new AbortController();
  const stopReading = () => reading.abort();
  signal.addEventListener("abort", stopReading, { once: true });
  // A stop asked for while the connections opened fired no event: without this, a quiet stream is read forever.
  if (signal.aborted) stopReading();
  const pipeline = createPipeline(ctx, { client, reader, from, signal, stopReading, committed: hooks.committed });
  try {
    for await (const raw of readRawBatches(ctx.nc, {
      stream: ctx.store.streams.events,
      fromSeq: from + 1,
      batchSize: ctx.batchSize,
      signal: reading.signal,
      logger: ctx.logger,
    })) {
      await pipeline.take(raw);
      applied();
      if (signal.aborted) break;
    }
  } finally {
    signal.removeEventListener("abort", stopReading);
    await pipeline.drain();
  }
}

async function openConnections(ctx: ProjectorContext): Promise<Connections> {
  const tx = await connectClient(ctx, "wheelhouse-projector");
  let read: pg.Client | null = null;
  try {
    read = await connectClient(ctx, "wheelhouse-projector-read");
    if (!ctx.durableCommit) await tx.query("SET synchronous_commit = off");
    return { tx, read };
  } catch (e) {
    for (const c of [tx, read]) await c?.end().catch(() => {});
    throw e;
  }
}

async function closeConnections(conns: Connections | null): Promise<void> {
  if (conns === null) return;
  for (const c of [conns.tx, conns.read]) await c.end().catch(() => {});
}

/**
 * The projector: follows the events stream and folds it into the Postgres
 * read models.
 *
 * Position lives in Postgres, not in NATS: each batch is applied and every
 * projection's checkpoint (last stream sequence) advanced in one transaction,
 * with the checkpoint rows locked, so a redelivered or concurrently read
 * event (restart, a second instance) is skipped, never applied twice
 * (checkpoints.ts). The reader is an ordered pull consumer started at the
 * lowest checkpoint + 1; a restart resumes there at once, with no ack timeout
 * to wait out (follow.ts).
 *
 * Throughput: each projection has a writer that keeps what it folded in
 * memory (aggregate views, the audit chain's head), so a batch reads from
 * Postgres only aggregates it has never seen, in one query per read model,
 * and writes one statement per table, on a dedicated node-postgres
 * connection (batch.ts). Batches are pipelined: batch N+1 is folded while
 * batch N's transaction runs, and thrown away if N did not commit as
 * assumed (pipeline.ts).
 *
 * A batch that fails is retried event by event, each projection in its own
 * savepoint; an event that still fails after the retries is recorded in
 * `dead_letters` (and `<PREFIX>_DLQ`) for that projection and skipped, so a
 * poison event never stops the read models (slow-path.ts, dead-letters.ts).
 * Projections that record everything (the audit trail) get a record of every
 * message that was not projected, so their chain has no holes. Whatever the
 * error: as long as Postgres answers, an event whose transaction still fails
 * after the retries (its dead-letter record included) is recorded in a last,
 * minimal form and passed. Only a Postgres that does not answer makes the
 * projector start over from its checkpoints (backing off, and stopping when
 * asked).
 *
 * Checkpoints count in one particular stream: each is bound to the events
 * stream's identity (`wheelhouse_stream_id`, lib/eventstore/streams.ts). On
 * start (and on every restart of the loop) the projector compares: on a
 * mismatch, or checkpoints past the stream's end, it refuses with the fix, or,
 * with `rebuildOnStreamChange`, empties the read models and projects the new
 * stream from its start (stream-identity.ts).
 *
 * Several projectors on one database (one per Wheelhouse process) share the read models: each
 * projection has one writer at a time, the instance holding its Postgres advisory lock, and the
 * instances split the projections between them; when one dies, the others take its projections
 * over within a second or two (leases.ts, lead.ts).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Db } from "../../lib/db/index.ts";
import { sql } from "../../lib/db/sql.ts";
import { ValidationError } from "../../lib/errors/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { type ProjectionLag, readProjectionLag } from "../../projections/lag.ts";
import type { Projection } from "../../projections/types.ts";
import { createContext, resetWriters, sleep } from "./context.ts";
import { publishLetters } from "./dead-letters.ts";
import { leadProjections } from "./lead.ts";
import { resetForRebuild } from "./rebuild.ts";
import { bindToStream } from "./stream-identity.ts";

export { REBUILD_COMMAND } from "./rebuild.ts";
export { StreamChangedError } from "./stream-identity.ts";

export interface ProjectorDeps {
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly db: Db;
  /** The read models; each folds through its writer (`createWriter`). */
  readonly projections: readonly Projection[];
  readonly logger?: Logger | undefined;
  /** Events per transaction during catch-up; default 500. */
  readonly batchSize?: number | undefined;
  /** Delays between attempts at an event that fails; its length is the number of retries. Default [50, 250, 1000]. */
  readonly retryBackoffMs?: readonly number[] | undefined;
  /** Called after each committed batch (metrics, benchmarks). */
  readonly onApplied?: ((info: AppliedBatch) => void) | undefined;
  /**
   * Wait for each batch's WAL flush at commit (`synchronous_commit = on`).
   * Default false: a batch's rows and its checkpoint commit atomically
   * either way, so a Postgres crash can only lose the last few batches
   * whole, checkpoint included, and the projector applies them again from
   * the stream (the audit chain is a pure function of the stream, so it
   * comes back hash for hash). Not waiting for the disk per batch is what
   * keeps live lag low when fsync is slow.
   */
  readonly durableCommit?: boolean | undefined;
  /**
   * When the events stream is not the one the checkpoints were taken in, empty the read models and
   * project the stream from its start (`storage.projector_rebuild_on_stream_change`). Default false:
   * `start` throws `StreamChangedError` naming both streams and the fix, and the loop waits.
   */
  readonly rebuildOnStreamChange?: boolean | undefined;
}

export interface AppliedBatch {
  /** The projections the batch was applied to (this instance's share of them). */
  readonly projections: readonly string[];
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly events: number;
  /** Wall clock at commit, ms since the epoch. */
  readonly committedAt: number;
  /** occurred_at of each event applied, ms since the epoch. */
  readonly occurredAt: readonly number[];
}

export type { ProjectionLag } from "../../projections/lag.ts";

export interface Projector {
  /** Starts following the stream from the checkpoints. */
  start(): Promise<void>;
  /** Finishes the batch in hand, commits it, and stops. */
  stop(): Promise<void>;
  /**
   * Resolves when every projection has applied the stream up to its last sequence at the time of the
   * call, whichever instance holds it.
   */
  catchUp(timeoutMs?: number): Promise<void>;
  /** Empties the read models (all, or the named ones), replays the stream from the start, returns when caught up. */
  rebuild(names?: readonly string[]): Promise<void>;
  /** Per projection: checkpoint, events and ms behind the stream (from Postgres, so any process can ask). */
  lag(): Promise<ProjectionLag[]>;
  readonly running: boolean;
  /** The projections this instance applies now; the others' writers are other instances on the database. */
  readonly holding: ReadonlySet<string>;
}

export function createProjector(deps: ProjectorDeps): Projector {
  const ctx = createContext(deps);
  const { db, store, projections, names, logger } = ctx;
  let abort: AbortController | null = null;
  let loop: Promise<void> | null = null;
  /** Lowest checkpoint of the projections held, known to be committed (for catchUp); -1 until read. */
  let applied = 0;
  /** The projections this instance applies now. */
  let holding: ReadonlySet<string> = new Set();
  /** The lowest checkpoint of every projection, from Postgres (some are applied by other instances). */
  const lowestCheckpoint = async () =>
    Number(
      await db.pool.oneFirst(
        sql.unsafe`SELECT COALESCE(min(last_seq), 0) FROM projection_checkpoints
                   WHERE projection = ANY(${sql.array(names, "text")})`,
      ),
    );

  const projector: Projector = {
    get running() {
      return loop !== null;
    },
    get holding() {
      return holding;
    },
    async start() {
      if (loop) return;
      // Bind to the stream before anything runs, so that a changed stream stops start-up with the fix.
      const client = await db.connectClient("wheelhouse-projector-start");
      try {
        await ctx.checkpoints.ensure(client);
        await bindToStream(ctx, client, true);
      } finally {
        await client.end().catch(() => {});
      }
      abort = new AbortController();
      applied = -1;
      loop = leadProjections(deps, abort.signal, {
        holding(names) {
          holding = names;
          applied = -1;
        },
        started(from) {
          applied = from;
        },
        async committed(sub, batch, letters) {
          applied = Math.max(applied, batch.lastSeq);
          await publishLetters(sub, letters);
          deps.onApplied?.({
            projections: sub.names,
            firstSeq: batch.firstSeq,
            lastSeq: batch.lastSeq,
            events: batch.size,
            committedAt: Date.now(),
            occurredAt: batch.items.flatMap((it) => (it.event ? [Date.parse(it.event.occurred_at)] : [])),
          });
        },
      });
    },
    async stop() {
      if (!loop || !abort) return;
      abort.abort();
      await loop;
      loop = null;
      abort = null;
    },
    async catchUp(timeoutMs = 60_000) {
      const target = await store.lastSeq();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (!loop) throw new Error("projector is not running");
        const holdsAll = holding.size === names.length;
        const at = holdsAll ? applied : await lowestCheckpoint();
        if (at >= target) return;
        if (Date.now() > deadline)
          throw new Error(`projector did not reach seq ${target} in ${timeoutMs} ms (at ${at})`);
        await sleep(holdsAll ? 5 : 25);
      }
    },
    async rebuild(only) {
      const unknown = (only ?? []).filter((n) => !names.includes(n));
      if (unknown.length > 0) {
        throw new ValidationError(`unknown projection(s): ${unknown.join(", ")}`, {
          field: "projections",
          fix: `name some of ${names.join(", ")}, or none to rebuild them all`,
        });
      }
      const selected = only ? projections.filter((p) => only.includes(p.name)) : projections;
      const wasRunning = loop !== null;
      await projector.stop();
      await resetForRebuild(ctx, selected);
      resetWriters(ctx);
      logger?.info({ projections: selected.map((p) => p.name) }, "rebuilding read models from the stream");
      await projector.start();
      await projector.catchUp(30 * 60_000);
      if (!wasRunning) await projector.stop();
    },
    lag: () => readProjectionLag({ db, store, projections: names }),
  };
  return projector;
}

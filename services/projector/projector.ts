/**
 * The projector: follows the events stream and folds it into the Postgres
 * read models.
 *
 * Position lives in Postgres, not in NATS: each batch is applied and every
 * projection's checkpoint (last stream sequence) advanced in one transaction,
 * with the checkpoint rows locked, so a redelivered or concurrently read
 * event (restart, a second instance) is skipped, never applied twice. The
 * reader is an ordered pull consumer started at the lowest checkpoint + 1; a
 * restart resumes there at once, with no ack timeout to wait out.
 *
 * Throughput: each projection has a writer that keeps what it folded in
 * memory (aggregate views, the audit chain's head), so a batch reads from
 * Postgres only aggregates it has never seen, in one query per read model,
 * and writes one statement per table, on a dedicated node-postgres
 * connection. Batches are pipelined: while batch N's transaction runs in
 * Postgres, batch N+1 is decoded, folded and hashed in Node on top of N's
 * (not yet committed) result. That is safe because the transaction of N+1
 * first locks the checkpoints and checks they are exactly where this
 * projector left them; if anything failed or anyone else moved them, the
 * prepared work is thrown away, every writer forgets what it holds, and the
 * batch is applied again "cold", reading its state inside the transaction.
 *
 * A batch that fails is retried event by event, each projection in its own
 * savepoint; an event that still fails after the retries is recorded in
 * `dead_letters` (and `<PREFIX>_DLQ`) for that projection and skipped, so a
 * poison event never stops the read models. Projections that record
 * everything (the audit trail) get a record of every message that was not
 * projected, so their chain has no holes. Whatever the error: as long as
 * Postgres answers, an event whose transaction still fails after the retries
 * (its dead-letter record included) is recorded in a last, minimal form and
 * passed. Only a Postgres that does not answer makes the projector start
 * over from its checkpoints (backing off, and stopping when asked).
 *
 * Checkpoints count in one particular stream: each is bound to the events
 * stream's identity (`wheelhouse_stream_id`, lib/eventstore/streams.ts). A
 * stream deleted and created again numbers its events from 1 again; reading
 * it from the old checkpoints would skip its first events. On start (and on
 * every restart of the loop) the projector compares: on a mismatch, or
 * checkpoints past the stream's end, it refuses with the fix, or, with
 * `rebuildOnStreamChange`, empties the read models and projects the new
 * stream from its start.
 */
import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type pg from "pg";
import { type AnyRecordedEvent, storableText, UnknownEventTypeError } from "../../events/index.ts";
import type { Db } from "../../lib/db/index.ts";
import type { SqlClient, Statement } from "../../lib/db/sql.ts";
import { sql } from "../../lib/db/sql.ts";
import { WheelhouseError } from "../../lib/errors/index.ts";
import { decodeRecorded } from "../../lib/eventstore/codec.ts";
import {
  type DeadLetterReason,
  type EventStore,
  publishDeadLetter,
  type RawStreamMessage,
  readRawBatches,
  type StreamIdentity,
} from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { readProjectionLag } from "../../projections/lag.ts";
import {
  type Projection,
  type ProjectionWriter,
  runStatements,
  type UnprojectedEntry,
} from "../../projections/types.ts";

export interface ProjectorDeps {
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly db: Db;
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
  /** Resolves when every projection has applied the stream up to its last sequence at the time of the call. */
  catchUp(timeoutMs?: number): Promise<void>;
  /** Empties the read models (all, or the named ones), replays the stream from the start, returns when caught up. */
  rebuild(names?: readonly string[]): Promise<void>;
  /** Per projection: checkpoint, events and ms behind the stream (from Postgres, so any process can ask). */
  lag(): Promise<import("../../projections/lag.ts").ProjectionLag[]>;
  readonly running: boolean;
}

const CONSUMER = "projector";

/** How to rebuild the read models by hand, for messages. */
export const REBUILD_COMMAND = "npm run rebuild";

/**
 * The read models were projected from another events stream than the one
 * there now (it was deleted and created again), or from further than it
 * goes: reading on from the checkpoints would skip the new stream's events.
 */
export class StreamChangedError extends WheelhouseError {
  constructor(stream: StreamIdentity, checkpoint: { readonly streamId: string | null; readonly lastSeq: number }) {
    const message =
      checkpoint.streamId !== null && checkpoint.streamId !== stream.id
        ? `the read models were projected from stream ${checkpoint.streamId} (up to seq ${checkpoint.lastSeq}), but ${stream.stream} is now stream ${stream.id} (last seq ${stream.lastSeq}, created ${stream.created})`
        : `the read models were projected up to seq ${checkpoint.lastSeq}, but ${stream.stream} (stream ${stream.id}) ends at seq ${stream.lastSeq}: it is not the stream they came from, or it lost events`;
    super("stream_changed", message, {
      field: "storage.projector_rebuild_on_stream_change",
      fix: `rebuild the read models from this stream (${REBUILD_COMMAND}), or set storage.projector_rebuild_on_stream_change: true (WHEELHOUSE_STORAGE__PROJECTOR_REBUILD_ON_STREAM_CHANGE=true) to have the projector do it; or point nats at the stream the read models came from`,
      extra: {
        stream: stream.stream,
        stream_id: stream.id,
        stream_last_seq: stream.lastSeq,
        checkpoint_stream_id: checkpoint.streamId,
        checkpoint_seq: checkpoint.lastSeq,
      },
    });
    this.name = "StreamChangedError";
  }
}

/** The projector was asked to stop between two events of a batch it was applying one by one. */
class StopRequestedError extends Error {
  constructor() {
    super("projector stopping");
    this.name = "StopRequestedError";
  }
}

/** A checkpoint is below what this projector's reader has already passed: read again from the checkpoints. */
class CheckpointBehindError extends Error {
  constructor(projection: string, checkpoint: number, readerAt: number) {
    super(`checkpoint of ${projection} is at ${checkpoint}, behind the reader at ${readerAt}; reading again from it`);
    this.name = "CheckpointBehindError";
  }
}

/** The first projection whose checkpoint is below `seq`, or null. */
function behind(cps: ReadonlyMap<string, number>, seq: number): [string, number] | null {
  for (const [name, cp] of cps) if (cp < seq) return [name, cp];
  return null;
}

/** One decoded stream message; `event` null when it could not be projected (`reason` says why). */
interface Item {
  readonly raw: RawStreamMessage;
  readonly event: AnyRecordedEvent | null;
  readonly reason: "decode_error" | "unknown_type" | null;
  readonly error: unknown;
}

interface Letter {
  readonly consumer: string;
  readonly item: Item;
  readonly error: unknown;
  /** Default: `handler_failed` for an event, `decode_error` for a message that is not one. */
  readonly reason?: DeadLetterReason | undefined;
  /** Keep the message's bytes out of Postgres (they are what could not be stored); the DLQ stream still gets them. */
  readonly withoutData?: boolean | undefined;
}

const reasonOf = (l: Letter): DeadLetterReason => l.reason ?? (l.item.event ? "handler_failed" : "decode_error");

interface Batch {
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
interface Prepared {
  readonly expected: ReadonlyMap<string, number>;
  readonly statements: Statement[];
  /** Projections without a writer: their `applyBatch`, run in the transaction. */
  readonly legacy: { readonly projection: Projection; readonly events: AnyRecordedEvent[] }[];
  readonly letters: Letter[];
}

type Outcome =
  | { readonly kind: "committed"; readonly letters: Letter[]; readonly checkpoints: Map<string, number> }
  | { readonly kind: "stale" }
  | { readonly kind: "behind"; readonly projection: string; readonly checkpoint: number }
  | { readonly kind: "failed"; readonly error: unknown };

export function createProjector(deps: ProjectorDeps): Projector {
  const { nc, store, db, projections, logger } = deps;
  const batchSize = deps.batchSize ?? 500;
  const retryBackoff = deps.retryBackoffMs ?? [50, 250, 1000];
  const names = projections.map((p) => p.name);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`projection ${n} is registered twice`);
    seen.add(n);
  }
  const writers = new Map<string, ProjectionWriter>();
  for (const p of projections) {
    const w = p.createWriter?.();
    if (w) writers.set(p.name, w);
  }
  const resetWriters = () => {
    for (const w of writers.values()) w.reset();
  };

  let abort: AbortController | null = null;
  let loop: Promise<void> | null = null;
  /** Lowest checkpoint known to be committed (in memory, for catchUp). */
  let applied = 0;
  /** The transaction connection, and a second one for reads while a transaction is in flight. */
  let txConn: pg.Client | null = null;
  let readConn: pg.Client | null = null;

  async function connectClient(name: string): Promise<pg.Client> {
    const client = await db.connectClient(name);
    // A dropped connection surfaces as a failed query; the loop then reconnects.
    client.on("error", (e) => logger?.warn({ err: describe(e) }, "projector connection lost"));
    return client;
  }

  async function openConnections() {
    await closeConnections();
    txConn = await connectClient("wheelhouse-projector");
    readConn = await connectClient("wheelhouse-projector-read");
    if (deps.durableCommit !== true) await txConn.query("SET synchronous_commit = off");
  }

  async function closeConnections() {
    const conns = [txConn, readConn];
    txConn = null;
    readConn = null;
    for (const c of conns) await c?.end().catch(() => {});
  }

  /**
   * Binds the checkpoints to the events stream about to be read, in one transaction holding their
   * locks: unbound ones adopt the stream's identity; ones taken in another stream, or past its end,
   * are refused (`StreamChangedError`) or, with `rebuildOnStreamChange` and `mayRebuild`, reset to 0
   * with every read model (and the old stream's dead letters) emptied. Only `start` may rebuild: a
   * stream replaced under a running projector waits for a restart, so that two projectors reading
   * two streams into one database cannot empty each other's read models in turn.
   */
  async function bindToStream(client: SqlClient, mayRebuild: boolean): Promise<void> {
    await client.query("BEGIN");
    try {
      const { rows } = await client.query<{ projection: string; last_seq: string; stream_id: string | null }>(
        `SELECT projection, last_seq, stream_id FROM projection_checkpoints
         WHERE projection = ANY($1::text[]) ORDER BY projection FOR UPDATE`,
        [names],
      );
      // Read under the locks: no other projector can move a checkpoint past what this sees.
      const stream = await store.identity();
      const foreign = rows.find(
        (r) => (r.stream_id !== null && r.stream_id !== stream.id) || Number(r.last_seq) > stream.lastSeq,
      );
      if (foreign === undefined) {
        await client.query(
          "UPDATE projection_checkpoints SET stream_id = $2 WHERE projection = ANY($1::text[]) AND stream_id IS NULL",
          [names, stream.id],
        );
      } else {
        const changed = new StreamChangedError(stream, {
          streamId: foreign.stream_id,
          lastSeq: Number(foreign.last_seq),
        });
        if (deps.rebuildOnStreamChange !== true || !mayRebuild) throw changed;
        logger?.warn(
          { stream: stream.stream, stream_id: stream.id, was: foreign.stream_id, reason: changed.message },
          "the events stream changed: emptying the read models and projecting the new stream from its start",
        );
        const tables = projections.flatMap((p) => p.tables);
        if (tables.length > 0) await client.query(`TRUNCATE ${tables.map(quoteIdentifier).join(", ")}`);
        await client.query("DELETE FROM dead_letters WHERE stream = $1", [stream.stream]);
        await client.query(
          `UPDATE projection_checkpoints SET last_seq = 0, last_occurred_at = NULL, stream_id = $2, updated_at = now()
           WHERE projection = ANY($1::text[])`,
          [names, stream.id],
        );
      }
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    }
  }

  async function ensureCheckpoints(client: SqlClient) {
    await client.query(
      `INSERT INTO projection_checkpoints (projection, last_seq)
       SELECT unnest($1::text[]), 0 ON CONFLICT (projection) DO NOTHING`,
      [names],
    );
  }

  async function lockCheckpoints(client: SqlClient): Promise<Map<string, number>> {
    const { rows } = await client.query<{ projection: string; last_seq: string }>(
      `SELECT projection, last_seq FROM projection_checkpoints
       WHERE projection = ANY($1::text[]) ORDER BY projection FOR UPDATE`,
      [names],
    );
    return new Map(rows.map((r) => [r.projection, Number(r.last_seq)]));
  }

  const advanceStatement = (lastSeq: number, lastOccurredAt: string | null): Statement => ({
    text: `UPDATE projection_checkpoints
        SET last_seq = GREATEST(last_seq, $2), last_occurred_at = COALESCE($3::timestamptz, last_occurred_at),
            updated_at = now()
        WHERE projection = ANY($1::text[])`,
    values: [names, lastSeq, lastOccurredAt],
  });

  async function advance(client: SqlClient, lastSeq: number, lastOccurredAt: string | null) {
    const a = advanceStatement(lastSeq, lastOccurredAt);
    await client.query(a.text, a.values);
  }

  // BEGIN and the checkpoint lock in one round trip (simple protocol, so no parameters: the names are code's own).
  const beginAndLockSql = `BEGIN; SELECT projection, last_seq FROM projection_checkpoints
    WHERE projection IN (${names.map((n) => `'${n.replace(/'/g, "''")}'`).join(", ")}) ORDER BY projection FOR UPDATE`;

  async function beginAndLock(client: pg.Client): Promise<Map<string, number>> {
    const results = (await client.query(beginAndLockSql)) as unknown as pg.QueryResult<{
      projection: string;
      last_seq: string;
    }>[];
    const rows = results[1]?.rows ?? [];
    return new Map(rows.map((r) => [r.projection, Number(r.last_seq)]));
  }

  /** The checkpoints after a batch ending at `lastSeq` commits on top of `cps`. */
  const advanced = (cps: ReadonlyMap<string, number>, lastSeq: number) =>
    new Map([...cps].map(([n, seq]) => [n, Math.max(seq, lastSeq)]));
  const minOf = (cps: ReadonlyMap<string, number>) => (cps.size === 0 ? 0 : Math.min(...cps.values()));
  const sameCheckpoints = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) =>
    a.size === b.size && [...a].every(([n, seq]) => b.get(n) === seq);

  async function recordDeadLetters(client: SqlClient, letters: readonly Letter[]) {
    const statement = deadLettersStatement(letters);
    if (statement) await client.query(statement.text, statement.values);
  }

  function deadLettersStatement(letters: readonly Letter[]): Statement | null {
    if (letters.length === 0) return null;
    const col = <T>(f: (l: Letter) => T) => letters.map(f);
    return {
      text: `INSERT INTO dead_letters (consumer, stream, seq, subject, event_id, event_type, reason, error, deliveries, data)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::int4[], $10::text[])
       ON CONFLICT (consumer, stream, seq) DO NOTHING`,
      values: [
        col((l) => l.consumer),
        col(() => store.streams.events),
        col((l) => l.item.raw.seq),
        col((l) => l.item.raw.subject),
        col((l) => l.item.event?.id ?? null),
        col((l) => l.item.event?.type ?? null),
        col(reasonOf),
        col((l) => describe(l.error).slice(0, 4000)),
        col((l) => (l.item.event ? retryBackoff.length + 1 : 1)),
        col((l) => (l.withoutData ? "" : storableText(Buffer.from(l.item.raw.data).toString("utf8")))),
      ],
    };
  }

  async function publishLetters(letters: readonly Letter[]) {
    for (const l of letters) {
      try {
        await publishDeadLetter(nc, store.prefix, {
          consumer: l.consumer.replace(/[^A-Za-z0-9_-]/g, "_"),
          stream: store.streams.events,
          seq: l.item.raw.seq,
          subject: l.item.raw.subject,
          reason: reasonOf(l),
          error: describe(l.error),
          deliveries: l.item.event ? retryBackoff.length + 1 : 1,
          eventId: l.item.event?.id ?? null,
          eventType: l.item.event?.type ?? null,
          data: l.item.raw.data,
        });
      } catch (e) {
        // Postgres already has it (same transaction as the checkpoint); the DLQ stream copy is best effort.
        logger?.warn({ seq: l.item.raw.seq, err: describe(e) }, "dead letter not copied to the DLQ stream");
      }
      logger?.error(
        { consumer: l.consumer, seq: l.item.raw.seq, type: l.item.event?.type, err: describe(l.error) },
        "event dead-lettered",
      );
    }
  }

  function decode(raw: RawStreamMessage): Item {
    try {
      const event = decodeRecorded(raw.data, { seq: raw.seq, stream: store.streams.events, subject: raw.subject });
      return { raw, event, reason: null, error: null };
    } catch (e) {
      if (e instanceof UnknownEventTypeError) {
        logger?.warn({ seq: raw.seq, type: e.eventType }, "skipping event of unknown type");
        return { raw, event: null, reason: "unknown_type", error: e };
      }
      return { raw, event: null, reason: "decode_error", error: e };
    }
  }

  function toBatch(raw: readonly RawStreamMessage[], prevSeq: number): Batch {
    const items = raw.map(decode);
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

  const unprojected = (it: Item, reason: string, error: unknown): UnprojectedEntry => ({
    kind: "unprojected",
    stream: store.streams.events,
    seq: it.raw.seq,
    subject: it.raw.subject,
    data: it.raw.data,
    timeMs: it.raw.timeMs,
    reason,
    error: describe(error),
  });

  /** Folds a batch through every writer, on top of checkpoints `cps`, reading what is missing through `reader`. */
  async function prepare(
    batch: Batch,
    reader: SqlClient,
    cps: ReadonlyMap<string, number>,
    speculative = false,
  ): Promise<Prepared> {
    const statements: Statement[] = [];
    const legacy: Prepared["legacy"] = [];
    for (const p of projections) {
      const from = cps.get(p.name) ?? 0;
      const events: AnyRecordedEvent[] = [];
      const missed: UnprojectedEntry[] = [];
      for (const it of batch.items) {
        if (it.raw.seq <= from) continue;
        if (it.event) {
          if (p.handles.has(it.event.type)) events.push(it.event);
        } else if (p.recordsUnprojected) {
          missed.push(unprojected(it, it.reason ?? "decode_error", it.error));
        }
      }
      if (events.length === 0 && missed.length === 0) continue;
      const writer = writers.get(p.name);
      if (writer) statements.push(...(await writer.prepare(reader, events, missed)));
      else if (events.length > 0) legacy.push({ projection: p, events });
      // Let the batch in flight make progress: its round trips are answered only when Node is free.
      if (speculative) await new Promise((resolve) => setImmediate(resolve));
    }
    const minCp = minOf(cps);
    const letters = batch.items
      .filter((it) => it.reason === "decode_error" && it.raw.seq > minCp)
      .map((it) => ({ consumer: CONSUMER, item: it, error: it.error }));
    return { expected: cps, statements, legacy, letters };
  }

  /**
   * One transaction for the batch. With `prepared`, the checkpoints must be
   * where it assumed (else "stale", nothing written); without, the batch is
   * folded cold inside the transaction from what Postgres holds.
   */
  async function execute(client: pg.Client, batch: Batch, prepared: Prepared | null): Promise<Outcome> {
    try {
      const cps = await beginAndLock(client);
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
        resetWriters();
        plan = await prepare(batch, client, cps);
      }
      for (const l of plan.legacy) await l.projection.applyBatch(client, l.events);
      const letters = deadLettersStatement(plan.letters);
      await runStatements(
        client,
        combineStatements([
          ...plan.statements,
          ...(letters ? [letters] : []),
          advanceStatement(batch.lastSeq, batch.lastOccurredAt),
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
   * The slow path after a batch failed: one event per transaction, retried, then dead-lettered per
   * projection. Whatever fails, the event is passed once its retries are spent, as long as Postgres
   * answers (`lastResort`); an unreachable Postgres is thrown to the loop, which starts over.
   */
  async function applyOneByOne(client: pg.Client, batch: Batch, signal: AbortSignal): Promise<Letter[]> {
    const all: Letter[] = [];
    let prevSeq = batch.prevSeq;
    for (const it of batch.items) {
      // Each event commits on its own, so stopping between two leaves the checkpoints exact.
      if (signal.aborted) throw new StopRequestedError();
      for (let attempt = 0; ; attempt++) {
        const last = attempt >= retryBackoff.length;
        try {
          await client.query("BEGIN");
          const cps = await lockCheckpoints(client);
          const gap = behind(cps, prevSeq);
          if (gap) throw new CheckpointBehindError(gap[0], gap[1], prevSeq);
          const out: Letter[] = [];
          if (it.event === null && it.reason === "decode_error" && it.raw.seq > minOf(cps)) {
            out.push({ consumer: CONSUMER, item: it, error: it.error });
          }
          for (const p of projections) {
            if (it.raw.seq <= (cps.get(p.name) ?? 0)) continue;
            const event = it.event;
            if (event === null) {
              if (p.recordsUnprojected) {
                try {
                  await inSavepoint(client, () =>
                    applyFresh(client, p, [], [unprojected(it, it.reason ?? "", it.error)]),
                  );
                } catch (e) {
                  if (!last) throw e;
                  out.push({ consumer: `${CONSUMER}:${p.name}`, item: it, error: e });
                }
              }
              continue;
            }
            if (!p.handles.has(event.type)) continue;
            try {
              // A savepoint per projection: one failing read model does not undo the others.
              await inSavepoint(client, () => applyFresh(client, p, [event], []));
            } catch (e) {
              if (!last) throw e;
              let error = e;
              if (p.recordsUnprojected) {
                // The trail still records that the event exists, with why it could not be projected.
                try {
                  await inSavepoint(client, () => applyFresh(client, p, [], [unprojected(it, "handler_failed", e)]));
                } catch (again) {
                  error = new Error(`${describe(e)}; recording it as not projected failed too: ${describe(again)}`);
                }
              }
              out.push({ consumer: `${CONSUMER}:${p.name}`, item: it, error });
            }
          }
          await recordDeadLetters(client, out);
          await advance(client, it.raw.seq, it.event?.occurred_at ?? null);
          await client.query("COMMIT");
          all.push(...out);
          prevSeq = it.raw.seq;
          break;
        } catch (e) {
          await client.query("ROLLBACK").catch(() => {});
          if (e instanceof CheckpointBehindError) throw e;
          // Postgres not answering is no reason to pass an event: start over from the checkpoints.
          if (!(await answers(client))) throw e;
          if (last) {
            all.push(...(await lastResort(client, it, prevSeq, e)));
            prevSeq = it.raw.seq;
            break;
          }
          logger?.warn({ seq: it.raw.seq, attempt: attempt + 1, err: describe(e) }, "event failed; retrying");
          await sleep(retryBackoff[attempt] ?? 1000, signal);
        }
      }
    }
    return all;
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
  async function lastResort(client: pg.Client, it: Item, prevSeq: number, error: unknown): Promise<Letter[]> {
    const digest = createHash("sha256").update(it.raw.data).digest("hex");
    const why = new Error(
      `${describe(error)} (message sha256 ${digest}, ${it.raw.data.byteLength} bytes, not stored in Postgres)`,
    );
    // What the audit trail records: the position and the error, none of the message's bytes.
    const bare: Item = { ...it, raw: { ...it.raw, data: new Uint8Array(0) } };
    try {
      await client.query("BEGIN");
      const cps = await lockCheckpoints(client);
      const gap = behind(cps, prevSeq);
      if (gap) throw new CheckpointBehindError(gap[0], gap[1], prevSeq);
      const out: Letter[] = [];
      for (const p of projections) {
        if (it.raw.seq <= (cps.get(p.name) ?? 0)) continue;
        const concerned = p.recordsUnprojected || (it.event !== null && p.handles.has(it.event.type));
        if (!concerned) continue;
        let error: Error = why;
        if (p.recordsUnprojected) {
          try {
            await inSavepoint(client, () => applyFresh(client, p, [], [unprojected(bare, "store_failed", why)]));
          } catch (e) {
            error = new Error(`${why.message}; its record in ${p.name} failed too: ${describe(e)}`);
          }
        }
        out.push({ consumer: `${CONSUMER}:${p.name}`, item: it, error, reason: "store_failed", withoutData: true });
      }
      await recordDeadLetters(client, out);
      await advance(client, it.raw.seq, it.event?.occurred_at ?? null);
      await client.query("COMMIT");
      logger?.error(
        { seq: it.raw.seq, err: why.message },
        "event not storable even as a dead letter; recorded without it",
      );
      return out;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    }
  }

  /** A projection's fold for the slow path: a fresh writer (nothing held), or `applyBatch`. */
  async function applyFresh(
    client: SqlClient,
    p: Projection,
    events: AnyRecordedEvent[],
    missed: UnprojectedEntry[],
  ): Promise<void> {
    const writer = p.createWriter?.();
    if (writer) await runStatements(client, await writer.prepare(client, events, missed));
    else if (events.length > 0) await p.applyBatch(client, events);
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

  async function committed(batch: Batch, letters: readonly Letter[]) {
    applied = Math.max(applied, batch.lastSeq);
    await publishLetters(letters);
    deps.onApplied?.({
      firstSeq: batch.firstSeq,
      lastSeq: batch.lastSeq,
      events: batch.size,
      committedAt: Date.now(),
      occurredAt: batch.items.flatMap((it) => (it.event ? [Date.parse(it.event.occurred_at)] : [])),
    });
  }

  async function follow(signal: AbortSignal) {
    /** Consecutive failed starts of the loop: the wait before the next one doubles, up to 30 s. */
    let failures = 0;
    while (!signal.aborted) {
      try {
        await openConnections();
        const client = txConn as pg.Client;
        const reader = readConn as pg.Client;
        await ensureCheckpoints(client);
        await bindToStream(client, false);
        resetWriters();
        const { rows } = await client.query<{ last_seq: string }>(
          "SELECT last_seq FROM projection_checkpoints WHERE projection = ANY($1::text[])",
          [names],
        );
        const from = Math.min(...rows.map((r) => Number(r.last_seq)));
        applied = from;
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
        /** The batch whose transaction runs while the next one is prepared; `done` is false when it did not commit as prepared. */
        let inflight: Promise<boolean> | null = null;
        /** The last sequence this reader delivered. */
        let readerAt = from;

        /** Applies a batch folded inside its own transaction; on failure, event by event. */
        const applyCold = async (batch: Batch, earlier: Outcome | null) => {
          const result = earlier ?? (await execute(client, batch, null));
          if (result.kind === "committed") {
            expected = result.checkpoints;
            await committed(batch, result.letters);
            return;
          }
          generation++;
          expected = null;
          resetWriters();
          if (result.kind === "behind") {
            throw new CheckpointBehindError(result.projection, result.checkpoint, batch.prevSeq);
          }
          if (result.kind === "stale") {
            logger?.info({ first: batch.firstSeq }, "checkpoints moved under the projector; applying the batch cold");
            return applyCold(batch, null);
          }
          logger?.warn(
            { first: batch.firstSeq, last: batch.lastSeq, err: describe(result.error) },
            "batch failed; applying event by event",
          );
          const letters = await applyOneByOne(client, batch, signal);
          // Sequences after the last item still count as applied.
          await client.query("BEGIN");
          const gap = behind(await lockCheckpoints(client), batch.lastSeq);
          if (gap) {
            await client.query("ROLLBACK");
            throw new CheckpointBehindError(gap[0], gap[1], batch.lastSeq);
          }
          await advance(client, batch.lastSeq, null);
          await client.query("COMMIT");
          await committed(batch, letters);
        };

        // Stops this reader on shutdown, or when the batch in flight failed beyond recovery (the stream may stay
        // quiet, so waiting for the next batch to notice could take forever): the loop then starts over.
        const reading = new AbortController();
        const stopReading = () => reading.abort();
        signal.addEventListener("abort", stopReading, { once: true });
        // A stop asked for while the connections opened fired no event: without this, a quiet stream is read forever.
        if (signal.aborted) stopReading();
        // A stop asked for while the connections opened fired no event: without this, a quiet stream is read forever.
        try {
          for await (const raw of readRawBatches(nc, {
            stream: store.streams.events,
            fromSeq: from + 1,
            batchSize,
            signal: reading.signal,
          })) {
            const batch = toBatch(raw, readerAt);
            readerAt = batch.lastSeq;
            const generationBefore = generation;
            // Fold the next batch while the previous one's transaction runs (reads go to the other connection).
            let prepared: Prepared | null = null;
            const assumed = expected;
            if (assumed !== null) {
              try {
                prepared = await withWriters(() => prepare(batch, reader, assumed, true));
                expected = advanced(assumed, batch.lastSeq);
              } catch (e) {
                // A fold that throws (or a failed read) leaves the writers half-updated: forget what they hold,
                // and let the batch go the cold way, where a failure is retried and dead-lettered per event.
                logger?.warn({ first: batch.firstSeq, err: describe(e) }, "preparing a batch failed; applying it cold");
                generation++;
                expected = null;
                await withWriters(async () => resetWriters());
              }
            }
            const previousCommitted = inflight === null ? true : await inflight;
            inflight = null;
            if (!previousCommitted || generation !== generationBefore) prepared = null;
            if (prepared === null) {
              await withWriters(() => applyCold(batch, null));
            } else {
              const plan = prepared;
              inflight = execute(client, batch, plan).then(async (result) => {
                if (result.kind === "committed") {
                  await committed(batch, result.letters);
                  return true;
                }
                // Recover at once (the stream may stay quiet), holding the writers.
                await withWriters(() => applyCold(batch, result));
                return false;
              });
              // Awaited by the next batch or on the way out; this only keeps a failure from being "unhandled" meanwhile.
              inflight.catch(stopReading);
            }
            failures = 0;
            if (signal.aborted) break;
          }
        } finally {
          signal.removeEventListener("abort", stopReading);
          if (inflight) await inflight;
        }
      } catch (e) {
        resetWriters();
        if (signal.aborted || e instanceof StopRequestedError) break;
        if (e instanceof CheckpointBehindError) {
          // Someone set a checkpoint back (a rebuild elsewhere): follow again from the lowest one, at once.
          logger?.info({ err: describe(e) }, "a checkpoint was set back; reading the stream again from it");
          continue;
        }
        failures++;
        const waitMs = Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5));
        if (e instanceof StreamChangedError) {
          // Never read on from checkpoints of another stream; wait for a rebuild, a restart or the old stream.
          logger?.error(
            { err: e.message, fix: e.fix, retry_ms: waitMs },
            "read models belong to another events stream",
          );
        } else {
          logger?.error(
            { err: describe(e), retry_ms: waitMs },
            "projector loop failed; restarting from the checkpoints",
          );
        }
        await sleep(waitMs, signal);
      }
    }
    await closeConnections();
  }

  const projector: Projector = {
    get running() {
      return loop !== null;
    },
    async start() {
      if (loop) return;
      // Bind to the stream before anything runs, so that a changed stream stops start-up with the fix.
      const client = await db.connectClient("wheelhouse-projector-start");
      try {
        await ensureCheckpoints(client);
        await bindToStream(client, true);
      } finally {
        await client.end().catch(() => {});
      }
      abort = new AbortController();
      applied = -1; // unknown until the loop has read the checkpoints
      loop = follow(abort.signal);
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
      while (applied < target) {
        if (!loop) throw new Error("projector is not running");
        if (Date.now() > deadline)
          throw new Error(`projector did not reach seq ${target} in ${timeoutMs} ms (at ${applied})`);
        await sleep(5);
      }
    },
    async rebuild(only) {
      const selected = only ? projections.filter((p) => only.includes(p.name)) : projections;
      const unknown = (only ?? []).filter((n) => !names.includes(n));
      if (unknown.length > 0)
        throw new Error(`unknown projection(s): ${unknown.join(", ")}; known: ${names.join(", ")}`);
      const wasRunning = loop !== null;
      await projector.stop();
      await db.transaction(async (tx) => {
        await tx.query(
          sql.unsafe`INSERT INTO projection_checkpoints (projection, last_seq)
                     SELECT unnest(${sql.array(names, "text")}), 0 ON CONFLICT (projection) DO NOTHING`,
        );
        await tx.query(
          sql.unsafe`SELECT projection FROM projection_checkpoints
                     WHERE projection = ANY(${sql.array(names, "text")}) ORDER BY projection FOR UPDATE`,
        );
        const tables = selected.flatMap((p) => p.tables);
        if (tables.length > 0) {
          // TRUNCATE, not DELETE: audit_events refuses DELETE (append-only trigger) and allows TRUNCATE,
          // because the chain is a pure function of the stream and a rebuild reproduces it exactly.
          await tx.query(
            sql.unsafe`TRUNCATE ${sql.join(
              tables.map((t) => sql.identifier([t])),
              sql.fragment`, `,
            )}`,
          );
        }
        // The replay records its dead letters again (the stream may not be the one they were recorded in).
        const consumers = [
          ...selected.map((p) => `${CONSUMER}:${p.name}`),
          ...(selected.length === projections.length ? [CONSUMER] : []),
        ];
        await tx.query(
          sql.unsafe`DELETE FROM dead_letters WHERE stream = ${store.streams.events}
                     AND consumer = ANY(${sql.array(consumers, "text")})`,
        );
        // Unbound: the next start binds them to the stream they are rebuilt from.
        await tx.query(
          sql.unsafe`UPDATE projection_checkpoints SET last_seq = 0, last_occurred_at = NULL, stream_id = NULL, updated_at = now()
                     WHERE projection = ANY(${sql.array(
                       selected.map((p) => p.name),
                       "text",
                     )})`,
        );
      });
      resetWriters();
      logger?.info({ projections: selected.map((p) => p.name) }, "rebuilding read models from the stream");
      await projector.start();
      await projector.catchUp(30 * 60_000);
      if (!wasRunning) await projector.stop();
    },
    lag: () => readProjectionLag({ db, store, projections: names }),
  };
  return projector;
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

/** An error as text Postgres and a NATS header can hold (an error may quote the event that caused it). */
function describe(e: unknown): string {
  return storableText(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

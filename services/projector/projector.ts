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
 * A batch that fails is retried event by event, each projection in its own
 * savepoint; an event that still fails after the retries is recorded in
 * `dead_letters` (and `<PREFIX>_DLQ`) for that projection and skipped, so a
 * poison event never stops the read models.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { type AnyRecordedEvent, UnknownEventTypeError } from "../../events/index.ts";
import type { CheckpointRow, Db } from "../../lib/db/index.ts";
import { sql } from "../../lib/db/sql.ts";
import { decodeRecorded } from "../../lib/eventstore/codec.ts";
import {
  type EventStore,
  publishDeadLetter,
  type RawStreamMessage,
  readRawBatches,
} from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type { Projection, Tx } from "../../projections/types.ts";

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

export interface ProjectionLag {
  readonly projection: string;
  readonly checkpoint: number;
  readonly stream_last_seq: number;
  /** Stream events not yet applied. */
  readonly events_behind: number;
  /** now − occurred_at of the last applied event; 0 when caught up. */
  readonly ms_behind: number;
  readonly last_applied_occurred_at: string | null;
}

export interface Projector {
  /** Starts following the stream from the checkpoints. */
  start(): Promise<void>;
  /** Finishes the batch in hand, commits it, and stops. */
  stop(): Promise<void>;
  /** Resolves when every projection has applied the stream up to its last sequence at the time of the call. */
  catchUp(timeoutMs?: number): Promise<void>;
  /** Empties the read models (all, or the named ones), replays the stream from the start, returns when caught up. */
  rebuild(names?: readonly string[]): Promise<void>;
  lag(): Promise<ProjectionLag[]>;
  readonly running: boolean;
}

const CONSUMER = "projector";

export function createProjector(deps: ProjectorDeps): Projector {
  const { nc, store, db, projections, logger } = deps;
  const batchSize = deps.batchSize ?? 500;
  const retryBackoff = deps.retryBackoffMs ?? [50, 250, 1000];
  const names = projections.map((p) => p.name);
  const nameArray = () => sql.array(names, "text");
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`projection ${n} is registered twice`);
    seen.add(n);
  }

  let abort: AbortController | null = null;
  let loop: Promise<void> | null = null;
  /** Lowest checkpoint known to be committed (in memory, for catchUp). */
  let applied = 0;

  async function ensureCheckpoints() {
    await db.pool.query(
      sql.unsafe`INSERT INTO projection_checkpoints (projection, last_seq)
                 SELECT unnest(${nameArray()}), 0 ON CONFLICT (projection) DO NOTHING`,
    );
  }

  async function lockCheckpoints(tx: Tx): Promise<Map<string, number>> {
    const rows = await tx.any(
      sql.unsafe`SELECT projection, last_seq FROM projection_checkpoints
                 WHERE projection = ANY(${nameArray()}) ORDER BY projection FOR UPDATE`,
    );
    return new Map((rows as unknown as CheckpointRow[]).map((r) => [r.projection, r.last_seq]));
  }

  async function advance(tx: Tx, lastSeq: number, lastOccurredAt: string | null) {
    await tx.query(
      sql.unsafe`UPDATE projection_checkpoints
        SET last_seq = GREATEST(last_seq, ${lastSeq}),
            last_occurred_at = COALESCE(${lastOccurredAt}::timestamptz, last_occurred_at),
            updated_at = now()
        WHERE projection = ANY(${nameArray()})`,
    );
  }

  interface Item {
    readonly raw: RawStreamMessage;
    readonly event: AnyRecordedEvent | null;
    readonly error: unknown;
  }

  interface Letter {
    readonly consumer: string;
    readonly item: Item;
    readonly error: unknown;
  }

  async function recordDeadLetters(tx: Tx, letters: readonly Letter[]) {
    if (letters.length === 0) return;
    const tuples = letters.map((l) => [
      l.consumer,
      store.streams.events,
      l.item.raw.seq,
      l.item.raw.subject,
      l.item.event?.id ?? null,
      l.item.event?.type ?? null,
      l.item.event ? "handler_failed" : "decode_error",
      describe(l.error).slice(0, 4000),
      l.item.event ? retryBackoff.length + 1 : 1,
      Buffer.from(l.item.raw.data).toString("utf8"),
    ]);
    await tx.query(
      sql.unsafe`INSERT INTO dead_letters (consumer, stream, seq, subject, event_id, event_type, reason, error, deliveries, data)
        SELECT * FROM ${sql.unnest(tuples, ["text", "text", "int8", "text", "text", "text", "text", "text", "int4", "text"])}
        ON CONFLICT (consumer, stream, seq) DO NOTHING`,
    );
  }

  async function publishLetters(letters: readonly Letter[]) {
    for (const l of letters) {
      try {
        await publishDeadLetter(nc, store.prefix, {
          consumer: l.consumer.replace(/[^A-Za-z0-9_-]/g, "_"),
          stream: store.streams.events,
          seq: l.item.raw.seq,
          subject: l.item.raw.subject,
          reason: l.item.event ? "handler_failed" : "decode_error",
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

  function decode(raw: RawStreamMessage): Item | null {
    try {
      const event = decodeRecorded(raw.data, { seq: raw.seq, stream: store.streams.events, subject: raw.subject });
      return { raw, event, error: null };
    } catch (e) {
      if (e instanceof UnknownEventTypeError) {
        logger?.warn({ seq: raw.seq, type: e.eventType }, "skipping event of unknown type");
        return null;
      }
      return { raw, event: null, error: e };
    }
  }

  async function applyBatch(items: readonly Item[], lastSeq: number): Promise<Letter[]> {
    return db.transaction(async (tx) => {
      const cps = await lockCheckpoints(tx);
      for (const p of projections) {
        const from = cps.get(p.name) ?? 0;
        const events: AnyRecordedEvent[] = [];
        for (const it of items) {
          if (it.event && it.event.seq > from && p.handles.has(it.event.type)) events.push(it.event);
        }
        if (events.length > 0) await p.applyBatch(tx, events);
      }
      const minCp = Math.min(...cps.values());
      const letters = items
        .filter((it) => it.event === null && it.raw.seq > minCp)
        .map((it) => ({ consumer: CONSUMER, item: it, error: it.error }));
      await recordDeadLetters(tx, letters);
      const lastEvent = items.findLast((it) => it.event !== null)?.event ?? null;
      await advance(tx, lastSeq, lastEvent?.occurred_at ?? null);
      return letters;
    });
  }

  /** The slow path after a batch failed: one event per transaction, retried, then dead-lettered per projection. */
  async function applyOneByOne(items: readonly Item[], signal: AbortSignal): Promise<Letter[]> {
    const all: Letter[] = [];
    for (const it of items) {
      for (let attempt = 0; ; attempt++) {
        const last = attempt >= retryBackoff.length;
        try {
          const letters = await db.transaction(async (tx) => {
            const cps = await lockCheckpoints(tx);
            const out: Letter[] = [];
            if (it.event === null) {
              if (it.raw.seq > Math.min(...cps.values())) out.push({ consumer: CONSUMER, item: it, error: it.error });
            } else {
              const event = it.event;
              for (const p of projections) {
                if (event.seq <= (cps.get(p.name) ?? 0) || !p.handles.has(event.type)) continue;
                try {
                  // A savepoint per projection: one failing read model does not undo the others.
                  await tx.transaction((sp) => p.applyBatch(sp, [event]));
                } catch (e) {
                  if (!last) throw e;
                  out.push({ consumer: `${CONSUMER}:${p.name}`, item: it, error: e });
                }
              }
            }
            await recordDeadLetters(tx, out);
            await advance(tx, it.raw.seq, it.event?.occurred_at ?? null);
            return out;
          });
          all.push(...letters);
          break;
        } catch (e) {
          if (last) throw e; // Postgres itself is failing: let the supervisor restart from the checkpoint.
          logger?.warn({ seq: it.raw.seq, attempt: attempt + 1, err: describe(e) }, "event failed; retrying");
          await sleep(retryBackoff[attempt] ?? 1000, signal);
        }
      }
    }
    return all;
  }

  async function applyRaw(batch: readonly RawStreamMessage[], signal: AbortSignal) {
    const items = batch.map(decode).filter((x): x is Item => x !== null);
    const lastSeq = batch[batch.length - 1]?.seq ?? 0;
    let letters: Letter[];
    try {
      letters = await applyBatch(items, lastSeq);
    } catch (e) {
      logger?.warn({ first: batch[0]?.seq, last: lastSeq, err: describe(e) }, "batch failed; applying event by event");
      letters = await applyOneByOne(items, signal);
      // Sequences skipped as unknown types after the last item still count as applied.
      await db.transaction((tx) => advance(tx, lastSeq, null));
    }
    applied = Math.max(applied, lastSeq);
    await publishLetters(letters);
    deps.onApplied?.({
      firstSeq: batch[0]?.seq ?? 0,
      lastSeq,
      events: batch.length,
      committedAt: Date.now(),
      occurredAt: items.flatMap((it) => (it.event ? [Date.parse(it.event.occurred_at)] : [])),
    });
  }

  async function follow(signal: AbortSignal) {
    while (!signal.aborted) {
      try {
        await ensureCheckpoints();
        const rows = await db.pool.any(
          sql.unsafe`SELECT last_seq FROM projection_checkpoints WHERE projection = ANY(${nameArray()})`,
        );
        const from = Math.min(...(rows as unknown as CheckpointRow[]).map((r) => r.last_seq));
        applied = from;
        for await (const batch of readRawBatches(nc, {
          stream: store.streams.events,
          fromSeq: from + 1,
          batchSize,
          signal,
        })) {
          await applyRaw(batch, signal);
          if (signal.aborted) break;
        }
      } catch (e) {
        if (signal.aborted) break;
        logger?.error({ err: describe(e) }, "projector loop failed; restarting from the checkpoints");
        await sleep(1000, signal);
      }
    }
  }

  const projector: Projector = {
    get running() {
      return loop !== null;
    },
    async start() {
      if (loop) return;
      abort = new AbortController();
      applied = -1; // unknown until the loop has read the checkpoints
      await ensureCheckpoints();
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
      await ensureCheckpoints();
      await db.transaction(async (tx) => {
        await lockCheckpoints(tx);
        const tables = selected.flatMap((p) => p.tables);
        if (tables.length > 0) {
          await tx.query(
            sql.unsafe`TRUNCATE ${sql.join(
              tables.map((t) => sql.identifier([t])),
              sql.fragment`, `,
            )}`,
          );
        }
        await tx.query(
          sql.unsafe`UPDATE projection_checkpoints SET last_seq = 0, last_occurred_at = NULL, updated_at = now()
                     WHERE projection = ANY(${sql.array(
                       selected.map((p) => p.name),
                       "text",
                     )})`,
        );
      });
      logger?.info({ projections: selected.map((p) => p.name) }, "rebuilding read models from the stream");
      await projector.start();
      await projector.catchUp(30 * 60_000);
      if (!wasRunning) await projector.stop();
    },
    async lag() {
      const last = await store.lastSeq();
      const rows = await db.pool.any(
        sql.unsafe`SELECT projection, last_seq, last_occurred_at FROM projection_checkpoints
                   WHERE projection = ANY(${nameArray()}) ORDER BY projection`,
      );
      const now = Date.now();
      return (rows as unknown as CheckpointRow[]).map((r) => {
        const checkpoint = r.last_seq;
        const at = r.last_occurred_at;
        const behind = Math.max(0, last - checkpoint);
        return {
          projection: r.projection,
          checkpoint,
          stream_last_seq: last,
          events_behind: behind,
          ms_behind: behind > 0 && at !== null ? Math.max(0, now - Date.parse(at)) : 0,
          last_applied_occurred_at: at,
        };
      });
    },
  };
  return projector;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
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

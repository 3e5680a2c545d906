/**
 * The projector's position: one row per projection in `projection_checkpoints` (the last stream
 * sequence applied, bound to the events stream's identity). Every batch locks them, checks them
 * and advances them in the transaction that writes its rows.
 */
import type pg from "pg";
import type { SqlClient, Statement } from "../../lib/db/sql.ts";

/** Each projection's checkpoint (last applied sequence), by projection name. */
export type CheckpointMap = ReadonlyMap<string, number>;

/** The checkpoints of one projector's projections. */
export interface Checkpoints {
  /** Creates the missing rows, at 0. */
  ensure(client: SqlClient): Promise<void>;
  /** Locks the rows (in the caller's transaction) and reads them. */
  lock(client: SqlClient): Promise<Map<string, number>>;
  /** `BEGIN` and `lock` in one round trip. */
  beginAndLock(client: pg.Client): Promise<Map<string, number>>;
  /** The lowest checkpoint, read without a lock. */
  lowest(client: SqlClient): Promise<number>;
  /** Moves every checkpoint to at least `lastSeq`, the time of the last event applied with it. */
  advanceStatement(lastSeq: number, lastOccurredAt: string | null): Statement;
  advance(client: SqlClient, lastSeq: number, lastOccurredAt: string | null): Promise<void>;
  /** Back to 0 for `projections` (default all), bound to `streamId` (null: the next start binds them). */
  reset(client: SqlClient, streamId: string | null, projections?: readonly string[]): Promise<void>;
}

export function createCheckpoints(names: readonly string[]): Checkpoints {
  const lockSql = `SELECT projection, last_seq FROM projection_checkpoints
       WHERE projection = ANY($1::text[]) ORDER BY projection FOR UPDATE`;
  // BEGIN and the lock in one round trip (simple protocol, so no parameters: the names are code's own).
  const beginAndLockSql = `BEGIN; SELECT projection, last_seq FROM projection_checkpoints
    WHERE projection IN (${names.map((n) => `'${n.replace(/'/g, "''")}'`).join(", ")}) ORDER BY projection FOR UPDATE`;
  const toMap = (rows: readonly { projection: string; last_seq: string }[]) =>
    new Map(rows.map((r) => [r.projection, Number(r.last_seq)]));
  const advanceStatement = (lastSeq: number, lastOccurredAt: string | null): Statement => ({
    text: `UPDATE projection_checkpoints
        SET last_seq = GREATEST(last_seq, $2), last_occurred_at = COALESCE($3::timestamptz, last_occurred_at),
            updated_at = now()
        WHERE projection = ANY($1::text[])`,
    values: [names, lastSeq, lastOccurredAt],
  });

  return {
    async ensure(client) {
      await client.query(
        `INSERT INTO projection_checkpoints (projection, last_seq)
         SELECT unnest($1::text[]), 0 ON CONFLICT (projection) DO NOTHING`,
        [names],
      );
    },
    async lock(client) {
      const { rows } = await client.query<{ projection: string; last_seq: string }>(lockSql, [names]);
      return toMap(rows);
    },
    async beginAndLock(client) {
      const results = (await client.query(beginAndLockSql)) as unknown as pg.QueryResult<{
        projection: string;
        last_seq: string;
      }>[];
      return toMap(results[1]?.rows ?? []);
    },
    async lowest(client) {
      const { rows } = await client.query<{ last_seq: string }>(
        "SELECT last_seq FROM projection_checkpoints WHERE projection = ANY($1::text[])",
        [names],
      );
      return Math.min(...rows.map((r) => Number(r.last_seq)));
    },
    advanceStatement,
    async advance(client, lastSeq, lastOccurredAt) {
      const a = advanceStatement(lastSeq, lastOccurredAt);
      await client.query(a.text, a.values);
    },
    async reset(client, streamId, projections = names) {
      await client.query(
        `UPDATE projection_checkpoints SET last_seq = 0, last_occurred_at = NULL, stream_id = $2, updated_at = now()
         WHERE projection = ANY($1::text[])`,
        [projections, streamId],
      );
    },
  };
}

/** A checkpoint is below what this projector's reader has already passed: read again from the checkpoints. */
export class CheckpointBehindError extends Error {
  constructor(projection: string, checkpoint: number, readerAt: number) {
    super(`checkpoint of ${projection} is at ${checkpoint}, behind the reader at ${readerAt}; reading again from it`);
    this.name = "CheckpointBehindError";
  }
}

/** The first projection whose checkpoint is below `seq`, or null. */
export function behind(cps: CheckpointMap, seq: number): [string, number] | null {
  for (const [name, cp] of cps) if (cp < seq) return [name, cp];
  return null;
}

/** Throws `CheckpointBehindError` when a checkpoint is below `seq` (someone set it back). */
export function assertNotBehind(cps: CheckpointMap, seq: number): void {
  const gap = behind(cps, seq);
  if (gap) throw new CheckpointBehindError(gap[0], gap[1], seq);
}

/** The checkpoints after a batch ending at `lastSeq` commits on top of `cps`. */
export const advanced = (cps: CheckpointMap, lastSeq: number): Map<string, number> =>
  new Map([...cps].map(([n, seq]) => [n, Math.max(seq, lastSeq)]));

export const minOf = (cps: CheckpointMap): number => (cps.size === 0 ? 0 : Math.min(...cps.values()));

export const sameCheckpoints = (a: CheckpointMap, b: CheckpointMap): boolean =>
  a.size === b.size && [...a].every(([n, seq]) => b.get(n) === seq);

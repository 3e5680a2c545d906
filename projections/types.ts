/**
 * What a read model is to the projector. Each `projections/<readModel>/`
 * exports one: a pure fold (`evolve`/`fold`) from events to rows, the event
 * types it handles, the SQL that loads and saves its rows, and its queries.
 */
import type { DatabaseTransactionConnection } from "slonik";
import type { AnyRecordedEvent, EventType } from "../events/index.ts";
import type { UnprojectedMessage } from "../lib/audit/record.ts";
import { type SqlClient, type Statement, slonikSqlClient } from "../lib/db/sql.ts";

export type { SqlClient, Statement } from "../lib/db/sql.ts";

/** A transaction: the projector's node-postgres client, or a slonik transaction (tests, tools). */
export type Tx = SqlClient | DatabaseTransactionConnection;

/** A stream message the projector could not turn into a projected event (see `Projection.recordsUnprojected`). */
export type UnprojectedEntry = { readonly kind: "unprojected" } & UnprojectedMessage;

/**
 * A projection's writer inside one projector: its fold plus what it keeps
 * in memory between batches (aggregates it has folded, the audit chain's
 * head), so that a batch reads from Postgres only what it has never seen.
 * What it holds is provisional until the batch's transaction commits; the
 * projector calls `reset()` after any failure and whenever another process
 * moved the checkpoints, and the writer then reads again what it needs.
 */
export interface ProjectionWriter {
  /**
   * Folds `events` (stream order, all newer than the checkpoint) on top of
   * what the writer holds, reading what it lacks through `db`, and returns
   * the statements that save the result. Reads go to `db`, which is either
   * the batch's own transaction or a connection that sees what has been
   * committed: a writer must never read what an earlier, still uncommitted
   * batch wrote; it already holds that in memory.
   */
  prepare(
    db: SqlClient,
    events: readonly AnyRecordedEvent[],
    unprojected: readonly UnprojectedEntry[],
  ): Promise<Statement[]>;
  /** Forgets everything held in memory. */
  reset(): void;
}

export interface Projection {
  /** Checkpoint name; stable across releases (renaming it rebuilds the model). */
  readonly name: string;
  /** Tables it owns, emptied by a rebuild. */
  readonly tables: readonly string[];
  /** Event types it folds; the projector passes it only these. */
  readonly handles: ReadonlySet<EventType>;
  /**
   * Also record the messages the projector could not project (undecodable,
   * unknown type, or this projection failed on them): the audit trail, so
   * that its chain has no silent holes. Passed as `unprojected` to `prepare`.
   */
  readonly recordsUnprojected?: boolean | undefined;
  /**
   * A fresh writer: folds batches of events (stream order, all newer than
   * its checkpoint) into statements for the caller's transaction. Must be
   * deterministic: rebuilding from the streams has to give the same rows.
   */
  createWriter(): ProjectionWriter;
}

/** Node-postgres clients take text; slonik connections take query tokens (and have `oneFirst`). */
function asSqlClient(tx: Tx): SqlClient {
  return typeof (tx as Partial<DatabaseTransactionConnection>).oneFirst === "function"
    ? slonikSqlClient(tx as DatabaseTransactionConnection)
    : (tx as SqlClient);
}

/** Runs statements one after the other on `db`. */
export async function runStatements(db: SqlClient, statements: readonly Statement[]): Promise<void> {
  for (const s of statements) await db.query(s.text, s.values);
}

/** Runs one batch through `writer` inside `tx` (tests and tools that project without a projector). */
export async function applyWithWriter(
  writer: ProjectionWriter,
  tx: Tx,
  events: readonly AnyRecordedEvent[],
): Promise<void> {
  const db = asSqlClient(tx);
  await runStatements(db, await writer.prepare(db, events, []));
}

/**
 * Aggregate views kept between batches, at most `max` of them, the least
 * recently folded evicted first. `max` must stay well above the aggregates
 * of two batches (the one being committed and the one being prepared), so
 * that a view an uncommitted batch wrote is never evicted and read back.
 * `null` records "not in Postgres either".
 */
export class ViewCache<V> {
  readonly #views = new Map<string, V | null>();
  constructor(private readonly max = 50_000) {}
  has(id: string): boolean {
    return this.#views.has(id);
  }
  get(id: string): V | null {
    return this.#views.get(id) ?? null;
  }
  set(id: string, view: V | null): void {
    this.#views.delete(id);
    this.#views.set(id, view);
  }
  /** Evicts the least recently set views beyond `max`; returns how many. */
  trim(): number {
    const over = this.#views.size - this.max;
    if (over <= 0) return 0;
    let left = over;
    for (const id of this.#views.keys()) {
      if (left-- <= 0) break;
      this.#views.delete(id);
    }
    return over;
  }
  clear(): void {
    this.#views.clear();
  }
  get size(): number {
    return this.#views.size;
  }
}

/**
 * Whether a writer's cache knows every row of its tables, so that an
 * aggregate it does not hold is known to be new and need not be looked up.
 * True from the moment it found its tables empty (a fresh database, a
 * rebuild, which is where catch-up throughput matters) until it first
 * evicts a view or is reset. The emptiness is read through the writer's
 * `db`, i.e. under the checkpoint lock or from what is committed.
 */
export class Completeness {
  #complete: boolean | null = null;
  constructor(private readonly emptySql: string) {}
  async known(db: SqlClient): Promise<boolean> {
    if (this.#complete === null) {
      const { rows } = await db.query<{ empty: boolean }>(this.emptySql);
      this.#complete = rows[0]?.empty === true;
    }
    return this.#complete;
  }
  evicted(count: number): void {
    if (count > 0) this.#complete = false;
  }
  reset(): void {
    this.#complete = null;
  }
}

/** `SELECT ... AS empty`: none of `tables` has a row. */
export const emptyTablesSql = (tables: readonly string[]) =>
  `SELECT ${tables.map((t) => `NOT EXISTS (SELECT 1 FROM "${t}")`).join(" AND ")} AS empty`;

/** Events grouped by aggregate, each group in stream order. */
export function byAggregate(events: readonly AnyRecordedEvent[]): Map<string, AnyRecordedEvent[]> {
  const out = new Map<string, AnyRecordedEvent[]>();
  for (const e of events) {
    const list = out.get(e.aggregate_id);
    if (list) list.push(e);
    else out.set(e.aggregate_id, [e]);
  }
  return out;
}

/** What differs between two aggregate-view writers: how to read, fold and save their views. */
export interface ViewWriterSpec<V> {
  /** The tables the views are saved to (their emptiness makes the cache complete). */
  readonly tables: readonly string[];
  readonly maxViews?: number | undefined;
  /** Reads the views of these aggregates from Postgres; an id missing from the map is new. */
  load(db: SqlClient, ids: readonly string[]): Promise<Map<string, V>>;
  /** Folds an aggregate's events onto its view; returns `prev` itself when nothing changed. */
  fold(prev: V | null, events: readonly AnyRecordedEvent[]): V | null;
  /** The statements that save what changed, given every (previous, next) pair of the batch. */
  save(changed: ReadonlyArray<{ readonly prev: V | null; readonly next: V }>): (Statement | null)[];
}

/**
 * A writer that keeps aggregate views in memory between batches, loads only
 * those it has never seen (none while its tables were empty at start), folds
 * each aggregate's events in one go, and saves only what changed.
 */
export function createViewWriter<V>(spec: ViewWriterSpec<V>): ProjectionWriter {
  const views = new ViewCache<V>(spec.maxViews);
  const complete = new Completeness(emptyTablesSql(spec.tables));
  return {
    reset: () => {
      views.clear();
      complete.reset();
    },
    async prepare(db: SqlClient, events: readonly AnyRecordedEvent[]): Promise<Statement[]> {
      const groups = byAggregate(events);
      const missing = (await complete.known(db)) ? [] : [...groups.keys()].filter((id) => !views.has(id));
      if (missing.length > 0) {
        const loaded = await spec.load(db, missing);
        for (const id of missing) views.set(id, loaded.get(id) ?? null);
      }
      const changed: { prev: V | null; next: V }[] = [];
      for (const [id, group] of groups) {
        const prev = views.get(id);
        const next = spec.fold(prev, group);
        if (next === null || next === prev) continue;
        views.set(id, next);
        changed.push({ prev, next });
      }
      complete.evicted(views.trim());
      return spec.save(changed).filter((s): s is Statement => s !== null);
    },
  };
}

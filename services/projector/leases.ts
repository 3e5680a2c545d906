/**
 * One writer per projection across every projector on a database: an instance applies a read
 * model only while it holds that projection's Postgres advisory lock, taken with
 * `pg_try_advisory_lock` on a connection of its own (session locks: a process that dies, or whose
 * connection drops, lets go of them at once). Instances share the projections: each counts the
 * instances alive (every one holds a shared "member" lock, visible in `pg_locks`) and holds its
 * fair share, ceil(projections / instances); one holding more lets the extra go, which another
 * takes on its next look. A lone instance holds them all, as a projector always did.
 *
 * The locks are keyed by the read-model schema, so projectors of other schemas (tests) never meet.
 * Correctness does not rest on them: every batch still locks and checks its checkpoints (a writer
 * whose lock was lost in the middle of a batch writes nothing twice). They keep a second
 * instance from doing the same work and moving the checkpoints under the first.
 */
import type pg from "pg";
import type { Logger } from "../../lib/log/index.ts";

export interface Leases {
  /** The projections this instance holds. */
  readonly held: ReadonlySet<string>;
  /**
   * Looks at how many instances are alive and takes or lets go of projections to hold its share.
   * Returns what to hold from now on when that changed, else null. Projections to let go of are
   * released only by `release`, once nothing writes to them any more.
   */
  rebalance(): Promise<{ readonly hold: ReadonlySet<string>; readonly release: readonly string[] } | null>;
  /** Lets go of `names` (after their writer stopped). */
  release(names: readonly string[]): Promise<void>;
  /** Aborted when the lock connection is lost (every lock with it). */
  readonly lost: AbortSignal;
  /** Lets go of every lock and ends the connection. */
  close(): Promise<void>;
}

/** Key space of the locks: one namespace per read-model schema, one key per projection. */
const namespaceOf = (schema: string) => `wheelhouse-projector/${schema}`;
const MEMBERS = "(instances)";

/**
 * Joins the projectors of `schema` on `client` (a dedicated connection this takes over) and takes
 * this instance's share of `names`.
 */
export async function openLeases(
  client: pg.Client,
  schema: string,
  names: readonly string[],
  logger?: Logger,
): Promise<Leases> {
  const held = new Set<string>();
  const lostController = new AbortController();
  const lose = (why: string) => {
    if (lostController.signal.aborted) return;
    if (held.size > 0) logger?.warn({ projections: [...held], why }, "projection locks lost with their connection");
    held.clear();
    lostController.abort();
  };
  client.on("error", (e) => lose(e.message));
  client.on("end", () => lose("connection ended"));
  const ns = namespaceOf(schema);
  await client.query("SELECT pg_advisory_lock_shared(hashtext($1), hashtext($2))", [ns, MEMBERS]);
  // Start at a different projection than the other instances, so that two starting together split them.
  const offset = Math.floor(Math.random() * names.length);
  const order = names.map((_, i) => names[(i + offset) % names.length] as string);

  const instances = async (): Promise<number> => {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_locks
        WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = hashtext($1)::oid AND objid = hashtext($2)::oid AND objsubid = 2 AND granted`,
      [ns, MEMBERS],
    );
    return Math.max(1, Number(rows[0]?.n ?? 1));
  };
  const tryLock = async (name: string): Promise<boolean> => {
    const { rows } = await client.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok",
      [ns, name],
    );
    return rows[0]?.ok === true;
  };

  return {
    held,
    lost: lostController.signal,
    async rebalance() {
      if (lostController.signal.aborted) return null;
      const share = Math.ceil(names.length / (await instances()));
      if (held.size > share) {
        const release = [...held].slice(share);
        const hold = new Set([...held].slice(0, share));
        return { hold, release };
      }
      let gained = false;
      for (const name of order) {
        if (held.size >= share) break;
        if (held.has(name)) continue;
        if (await tryLock(name)) {
          held.add(name);
          gained = true;
        }
      }
      if (gained) logger?.info({ projections: [...held] }, "holding projections");
      return gained ? { hold: new Set(held), release: [] } : null;
    },
    async release(released) {
      for (const name of released) {
        if (!held.delete(name)) continue;
        await client.query("SELECT pg_advisory_unlock(hashtext($1), hashtext($2))", [ns, name]);
      }
      if (released.length > 0) logger?.info({ released, projections: [...held] }, "projections handed over");
    },
    async close() {
      held.clear();
      await client.end().catch(() => {});
    },
  };
}

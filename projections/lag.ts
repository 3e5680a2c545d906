/**
 * How far the read models are behind the events stream, for whoever serves
 * it (the gateway's `/metrics`, the CLI, logs). Transport-free: it reads the
 * checkpoints from Postgres and the stream's last sequence from JetStream,
 * so any process with the database and the event store can ask, whether or
 * not it runs the projector.
 *
 * ```ts
 * registerProjectorLagMetrics(registry, () => readProjectionLag({ db, store, projections: names }));
 * // /metrics then has wheelhouse_projector_lag_events{projection="plans"} and wheelhouse_projector_lag_ms{...}
 * ```
 */
import { Gauge, type Registry } from "prom-client";
import type { Db } from "../lib/db/index.ts";
import { sql } from "../lib/db/sql.ts";
import type { EventStore } from "../lib/eventstore/index.ts";

/** A row of `projection_checkpoints`: how far one projection has applied the events stream. */
interface CheckpointRow {
  projection: string;
  last_seq: number;
  last_occurred_at: string | null;
  stream_id: string | null;
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
  /**
   * The checkpoint counts in another events stream than the one there now (it was deleted and
   * created again): the projection has applied none of this stream, whatever the numbers say.
   */
  readonly stream_changed: boolean;
}

export interface LagSource {
  readonly db: Pick<Db, "pool">;
  readonly store: Pick<EventStore, "lastSeq"> & Partial<Pick<EventStore, "identity">>;
  /** Projection (checkpoint) names; default: every checkpoint in the schema. */
  readonly projections?: readonly string[] | undefined;
  /** Clock, ms since the epoch (tests). */
  readonly now?: (() => number) | undefined;
}

/** Each projection's checkpoint against the stream's last sequence, in projection-name order. */
export async function readProjectionLag(source: LagSource): Promise<ProjectionLag[]> {
  const stream = source.store.identity ? await source.store.identity() : null;
  const last = stream?.lastSeq ?? (await source.store.lastSeq());
  const rows = (await source.db.pool.any(
    source.projections === undefined
      ? sql.unsafe`SELECT projection, last_seq, last_occurred_at, stream_id FROM projection_checkpoints ORDER BY projection`
      : sql.unsafe`SELECT projection, last_seq, last_occurred_at, stream_id FROM projection_checkpoints
                   WHERE projection = ANY(${sql.array(source.projections, "text")}) ORDER BY projection`,
  )) as unknown as CheckpointRow[];
  const now = source.now?.() ?? Date.now();
  return rows.map((r) => {
    // A checkpoint of another stream, or past this one's end, covers nothing of this stream.
    const changed =
      stream !== null && ((r.stream_id !== null && r.stream_id !== stream.id) || r.last_seq > stream.lastSeq);
    const behind = changed ? last : Math.max(0, last - r.last_seq);
    const at = r.last_occurred_at;
    return {
      projection: r.projection,
      checkpoint: r.last_seq,
      stream_last_seq: last,
      events_behind: behind,
      ms_behind: behind > 0 && at !== null ? Math.max(0, now - Date.parse(at)) : 0,
      last_applied_occurred_at: at,
      stream_changed: changed,
    };
  });
}

export const LAG_EVENTS_METRIC = "wheelhouse_projector_lag_events";
export const LAG_MS_METRIC = "wheelhouse_projector_lag_ms";

/**
 * Registers `wheelhouse_projector_lag_events` and `wheelhouse_projector_lag_ms`
 * (label `projection`) on `registry`; both are read when the registry is
 * scraped (one `readLag` per scrape, shared by the two gauges). Returns the
 * gauges. A failing read leaves the previous values and is reported through
 * `onError`.
 */
export function registerProjectorLagMetrics(
  registry: Registry,
  readLag: () => Promise<readonly ProjectionLag[]>,
  onError?: (error: unknown) => void,
): { readonly events: Gauge<"projection">; readonly ms: Gauge<"projection"> } {
  let pending: Promise<readonly ProjectionLag[] | null> | null = null;
  // Both gauges collect in the same scrape: read once for the pair.
  const read = () => {
    pending ??= readLag()
      .catch((e: unknown) => {
        onError?.(e);
        return null;
      })
      .finally(() => {
        setImmediate(() => {
          pending = null;
        });
      });
    return pending;
  };
  const events = new Gauge({
    name: LAG_EVENTS_METRIC,
    help: "Events of the events stream the projection has not applied yet.",
    labelNames: ["projection"] as const,
    registers: [registry],
    async collect() {
      const lag = await read();
      for (const l of lag ?? []) this.set({ projection: l.projection }, l.events_behind);
    },
  });
  const ms = new Gauge({
    name: LAG_MS_METRIC,
    help: "Milliseconds since the last event the projection applied occurred, while it is behind; 0 when caught up.",
    labelNames: ["projection"] as const,
    registers: [registry],
    async collect() {
      const lag = await read();
      for (const l of lag ?? []) this.set({ projection: l.projection }, l.ms_behind);
    },
  });
  return { events, ms };
}

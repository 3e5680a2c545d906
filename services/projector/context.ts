/**
 * What every part of the projector shares: its dependencies, the read models' writers, the
 * checkpoints table, and small helpers. Built once by `createProjector`.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type pg from "pg";
import { storableText } from "../../events/index.ts";
import type { Db } from "../../lib/db/index.ts";
import { describeError, type EventStore } from "../../lib/eventstore/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import type { Projection, ProjectionWriter } from "../../projections/types.ts";
import { type Checkpoints, createCheckpoints } from "./checkpoints.ts";
import type { ProjectorDeps } from "./projector.ts";

export interface ProjectorContext {
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly db: Db;
  readonly projections: readonly Projection[];
  /** The projections' names, which are their checkpoints' names. */
  readonly names: readonly string[];
  readonly checkpoints: Checkpoints;
  /** Each projection's writer, holding what it folded between batches. */
  readonly writers: ReadonlyMap<string, ProjectionWriter>;
  /** Delays between attempts at an event that fails; its length is the number of retries. */
  readonly retryBackoff: readonly number[];
  readonly batchSize: number;
  readonly durableCommit: boolean;
  readonly rebuildOnStreamChange: boolean;
  readonly logger: Logger | undefined;
}

/** Checks the projections' names are unique and gives each its writer. */
export function createContext(opts: ProjectorDeps): ProjectorContext {
  const names = opts.projections.map((p) => p.name);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`projection ${n} is registered twice`);
    seen.add(n);
  }
  const writers = new Map<string, ProjectionWriter>();
  for (const p of opts.projections) writers.set(p.name, p.createWriter());
  return {
    nc: opts.nc,
    store: opts.store,
    db: opts.db,
    projections: opts.projections,
    names,
    checkpoints: createCheckpoints(names),
    writers,
    retryBackoff: opts.retryBackoffMs ?? [50, 250, 1000],
    batchSize: opts.batchSize ?? 500,
    durableCommit: opts.durableCommit === true,
    rebuildOnStreamChange: opts.rebuildOnStreamChange === true,
    logger: opts.logger,
  };
}

/** Every writer forgets what it holds (after a failure, or when someone else moved the checkpoints). */
export function resetWriters(ctx: ProjectorContext): void {
  for (const w of ctx.writers.values()) w.reset();
}

/** A dedicated node-postgres connection; a dropped one surfaces as a failed query, and the loop reconnects. */
export async function connectClient(ctx: ProjectorContext, name: string): Promise<pg.Client> {
  const client = await ctx.db.connectClient(name);
  client.on("error", (e) => ctx.logger?.warn({ err: describe(e) }, "projector connection lost"));
  return client;
}

/** An error as text Postgres and a NATS header can hold (an error may quote the event that caused it). */
export function describe(e: unknown): string {
  return storableText(describeError(e));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
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

/**
 * What one projector instance runs: it holds its share of the projections (leases.ts) and
 * follows the stream for those only (follow.ts, on a context of its own). Every second it looks
 * again: a projection it gains (another instance died or stopped) or must hand over (another
 * joined) restarts its reader on the new set from those projections' checkpoints. Losing the lock
 * connection stops the writer at once and joins again.
 */

import type { Batch } from "./batch.ts";
import { createContext, describe, type ProjectorContext, sleep } from "./context.ts";
import type { Letter } from "./dead-letters.ts";
import { followStream } from "./follow.ts";
import { type Leases, openLeases } from "./leases.ts";
import type { ProjectorDeps } from "./projector.ts";

/** How often an instance looks at who holds what. */
const LOOK_EVERY_MS = 1_000;

export interface LeadHooks {
  /** From now on this instance applies `names` (empty: it stands by). */
  readonly holding: (names: ReadonlySet<string>) => void;
  /** Reading (re)starts after `from`, the lowest checkpoint of the projections held. */
  readonly started: (from: number) => void;
  /** A batch committed for the projections of `ctx`; `letters` are its dead letters, to publish. */
  readonly committed: (ctx: ProjectorContext, batch: Batch, letters: readonly Letter[]) => Promise<void>;
}

/** Holds and applies this instance's share of the projections until `signal` aborts. */
export async function leadProjections(deps: ProjectorDeps, signal: AbortSignal, hooks: LeadHooks): Promise<void> {
  const names = deps.projections.map((p) => p.name);
  let leases: Leases | null = null;
  let writer: { readonly stop: AbortController; readonly done: Promise<void> } | null = null;
  let failures = 0;

  const stopWriter = async () => {
    if (writer === null) return;
    writer.stop.abort();
    await writer.done;
    writer = null;
  };
  const startWriter = (hold: ReadonlySet<string>) => {
    hooks.holding(hold);
    if (hold.size === 0) return;
    const ctx = createContext({ ...deps, projections: deps.projections.filter((p) => hold.has(p.name)) });
    const stop = new AbortController();
    // The writer stops with the projector, or the moment the locks are lost.
    const lost = leases?.lost;
    const abortWith = () => stop.abort();
    signal.addEventListener("abort", abortWith, { once: true });
    lost?.addEventListener("abort", abortWith, { once: true });
    const done = followStream(ctx, stop.signal, {
      started: hooks.started,
      committed: (batch, letters) => hooks.committed(ctx, batch, letters),
    }).finally(() => {
      signal.removeEventListener("abort", abortWith);
      lost?.removeEventListener("abort", abortWith);
    });
    writer = { stop, done };
  };

  try {
    while (!signal.aborted) {
      try {
        if (leases === null || leases.lost.aborted) {
          await stopWriter();
          hooks.holding(new Set());
          await leases?.close();
          leases = null;
          leases = await openLeases(
            await deps.db.connectClient("wheelhouse-projector-locks"),
            deps.db.schema,
            names,
            deps.logger,
          );
        }
        const change = await leases.rebalance();
        if (change !== null) {
          await stopWriter();
          await leases.release(change.release);
          startWriter(change.hold);
        }
        failures = 0;
        await sleep(LOOK_EVERY_MS, AbortSignal.any([signal, leases.lost]));
      } catch (e) {
        if (signal.aborted) break;
        failures++;
        const waitMs = Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5));
        deps.logger?.error({ err: describe(e), retry_ms: waitMs }, "projection locks not checked; trying again");
        await sleep(waitMs, signal);
      }
    }
  } finally {
    await stopWriter();
    hooks.holding(new Set());
    await leases?.close();
  }
}

/**
 * Emptying read models so that they are projected again from the stream: by hand (`rebuild`), or
 * when the events stream was replaced (stream-identity.ts).
 */
import type { SqlClient } from "../../lib/db/sql.ts";
import type { Projection } from "../../projections/types.ts";
import type { ProjectorContext } from "./context.ts";
import { CONSUMER, consumerOf } from "./dead-letters.ts";

/** How to rebuild the read models by hand, for messages. */
export const REBUILD_COMMAND = "npm run rebuild";

/**
 * Empties the tables of `projections` and the dead letters their consumers recorded on this
 * stream (`"all"`: every consumer's), in the caller's transaction.
 */
export async function emptyReadModels(
  ctx: ProjectorContext,
  client: SqlClient,
  projections: readonly Projection[],
  consumers: readonly string[] | "all",
): Promise<void> {
  const tables = projections.flatMap((p) => p.tables);
  if (tables.length > 0) {
    // TRUNCATE, not DELETE: audit_events refuses DELETE (append-only trigger) and allows TRUNCATE,
    // because the chain is a pure function of the stream and a rebuild reproduces it exactly.
    await client.query(`TRUNCATE ${tables.map(quoteIdentifier).join(", ")}`);
  }
  if (consumers === "all") {
    await client.query("DELETE FROM dead_letters WHERE stream = $1", [ctx.store.streams.events]);
  } else {
    await client.query("DELETE FROM dead_letters WHERE stream = $1 AND consumer = ANY($2::text[])", [
      ctx.store.streams.events,
      consumers,
    ]);
  }
}

/**
 * Sets the `selected` read models back to nothing, in one transaction holding the checkpoint
 * locks: their tables and dead letters emptied (they are recorded again by the replay: the stream
 * may not be the one they were recorded in), their checkpoints at 0 and unbound, so that the next
 * start binds them to the stream they are rebuilt from.
 */
export async function resetForRebuild(ctx: ProjectorContext, selected: readonly Projection[]): Promise<void> {
  const client = await ctx.db.connectClient("wheelhouse-projector-rebuild");
  try {
    await client.query("BEGIN");
    try {
      await ctx.checkpoints.ensure(client);
      await ctx.checkpoints.lock(client);
      const consumers = [
        ...selected.map((p) => consumerOf(p.name)),
        ...(selected.length === ctx.projections.length ? [CONSUMER] : []),
      ];
      await emptyReadModels(ctx, client, selected, consumers);
      await ctx.checkpoints.reset(
        client,
        null,
        selected.map((p) => p.name),
      );
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    }
  } finally {
    await client.end().catch(() => {});
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

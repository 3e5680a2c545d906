/**
 * Checkpoints count in one particular stream: each is bound to the events stream's identity
 * (`wheelhouse_stream_id`, lib/eventstore/streams.ts). A stream deleted and created again numbers
 * its events from 1 again; reading it from the old checkpoints would skip its first events.
 */
import type { SqlClient } from "../../lib/db/sql.ts";
import { WheelhouseError } from "../../lib/errors/index.ts";
import type { StreamIdentity } from "../../lib/eventstore/index.ts";
import type { ProjectorContext } from "./context.ts";
import { emptyReadModels, REBUILD_COMMAND } from "./rebuild.ts";

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

/**
 * Binds the checkpoints to the events stream about to be read, in one transaction holding their
 * locks: unbound ones adopt the stream's identity; ones taken in another stream, or past its end,
 * are refused (`StreamChangedError`) or, with `rebuildOnStreamChange` and `mayRebuild`, reset to 0
 * with every read model (and the old stream's dead letters) emptied. Only `start` may rebuild: a
 * stream replaced under a running projector waits for a restart, so that two projectors reading
 * two streams into one database cannot empty each other's read models in turn.
 */
export async function bindToStream(ctx: ProjectorContext, client: SqlClient, mayRebuild: boolean): Promise<void> {
  const { names, logger } = ctx;
  await client.query("BEGIN");
  try {
    const { rows } = await client.query<{ projection: string; last_seq: string; stream_id: string | null }>(
      `SELECT projection, last_seq, stream_id FROM projection_checkpoints
       WHERE projection = ANY($1::text[]) ORDER BY projection FOR UPDATE`,
      [names],
    );
    // Read under the locks: no other projector can move a checkpoint past what this sees.
    const stream = await ctx.store.identity();
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
      if (!ctx.rebuildOnStreamChange || !mayRebuild) throw changed;
      logger?.warn(
        { stream: stream.stream, stream_id: stream.id, was: foreign.stream_id, reason: changed.message },
        "the events stream changed: emptying the read models and projecting the new stream from its start",
      );
      await emptyReadModels(ctx, client, ctx.projections, "all");
      await ctx.checkpoints.reset(client, stream.id);
    }
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

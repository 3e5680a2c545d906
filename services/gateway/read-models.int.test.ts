/** `caughtUp` (what `Prefer: wait` asks) against the projection checkpoints of a real schema. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { StreamIdentity } from "../../lib/eventstore/index.ts";
import { createTestSchema, type TestSchema } from "../../test/support/index.ts";
import { createReadModels, type ReadModelsDeps } from "./read-models.ts";

let schema: TestSchema;
const current: StreamIdentity = {
  stream: "T_EVENTS",
  id: "stream-now",
  created: "2026-01-02T00:00:00Z",
  firstSeq: 1,
  lastSeq: 5,
};

before(async () => {
  schema = await createTestSchema("rm_wait");
});

after(async () => {
  await schema.drop();
});

const readModels = () =>
  createReadModels({
    // caughtUp reads the checkpoints and the plans/executions rows with plain SQL only.
    queries: {} as ReadModelsDeps["queries"],
    sql: schema.pool,
    stream: { identity: async () => current },
  });

async function checkpoints(rows: [projection: string, lastSeq: number, streamId: string | null][]) {
  await schema.pool.query("DELETE FROM projection_checkpoints");
  for (const [projection, lastSeq, streamId] of rows) {
    await schema.pool.query(
      "INSERT INTO projection_checkpoints (projection, last_seq, stream_id) VALUES ($1, $2, $3)",
      [projection, lastSeq, streamId],
    );
  }
}

test("caughtUp counts only checkpoints taken in the current events stream", async () => {
  const rm = readModels();
  const signal = { kind: "signal" as const, id: "sig-1" };

  // The old stream's checkpoints are far past seq 3, but this stream starts over at 1: not projected.
  await checkpoints([
    ["plans", 900, "stream-before"],
    ["audit", 900, "stream-before"],
  ]);
  assert.equal(await rm.caughtUp(3, signal), false);
  assert.equal(await rm.caughtUp(3, { kind: "plan", id: "no-such-plan" }), false);

  // One projection rebound to this stream, the other still on the old one: still not.
  await checkpoints([
    ["plans", 4, "stream-now"],
    ["audit", 900, "stream-before"],
  ]);
  assert.equal(await rm.caughtUp(3, signal), false);

  // Unbound checkpoints (a rebuild not yet started) cover nothing either.
  await checkpoints([
    ["plans", 4, "stream-now"],
    ["audit", 4, null],
  ]);
  assert.equal(await rm.caughtUp(3, signal), false);

  // Every checkpoint in this stream: the lowest decides.
  await checkpoints([
    ["plans", 4, "stream-now"],
    ["audit", 3, "stream-now"],
  ]);
  assert.equal(await rm.caughtUp(3, signal), true);
  assert.equal(await rm.caughtUp(4, signal), false);
});

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createDb } from "../../lib/db/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import { projections } from "../../projections/index.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  testEnv,
  uniqueName,
  withDeadline,
} from "../../test/support/index.ts";
import { createProjector } from "./projector.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

// A failed start-up of the embedded process stops the projector a moment after it started, while its loop is still
// opening connections; the abort then fired before the reader listened for it, and on a quiet stream stop() hung.
test("stop() right after start() returns, on a stream with nothing to read", async () => {
  const prefix = uniqueName("t_pjstop");
  const schema = uniqueName("t_pjstop");
  const nc = await connectTestNats();
  const store = createEventStore({ nc, prefix });
  await store.provision();
  const db = await createDb({ url: testEnv.pgUrl, schema });
  cleanups.push(async () => {
    await deleteStreams(nc, prefix);
    await db.close();
    await dropSchemas(schema);
    await nc.close();
  });

  for (let round = 0; round < 5; round++) {
    const projector = createProjector({ nc, store, db, projections });
    await projector.start();
    await withDeadline(`stop() in round ${round}`, projector.stop(), 5_000);
    assert.equal(projector.running, false);
  }
});

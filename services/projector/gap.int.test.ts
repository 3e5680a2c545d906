import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { AnyEvent } from "../../events/index.ts";
import { createDb } from "../../lib/db/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import { changeHistory } from "../../projections/fixtures.ts";
import { projections } from "../../projections/index.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  schemaPool,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";
import { createProjector } from "./projector.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

// A rebuild run from another process (`main.ts rebuild audit`) empties a read model and sets its checkpoint
// back while a live projector keeps following the stream far ahead. The live projector must not apply the
// next event on top of the reset model and move its checkpoint past everything the rebuild has yet to replay.
test("a checkpoint set back by another process is replayed, not jumped over", async () => {
  const prefix = uniqueName("t_pjgap");
  const schema = prefix;
  const nc = await connectTestNats();
  const store = createEventStore({ nc, prefix });
  await store.provision();
  const db = await createDb({ url: testEnv.pgUrl, schema });
  const admin = schemaPool(schema);
  cleanups.push(async () => {
    await nc.close();
  });
  cleanups.push(async () => {
    await deleteStreams(nc, prefix);
    await admin.end();
    await db.close();
    await dropSchemas(schema);
  });

  for (let n = 0; n < 5; n++) for (const a of changeHistory(n, Date.UTC(2026, 0, 1), "g")) await store.append(a);
  const projector = createProjector({ nc, store, db, projections, batchSize: 50 });
  cleanups.push(() => projector.stop());
  await projector.start();
  await projector.catchUp();
  const before = await store.lastSeq();
  const count = async () => Number((await admin.query("SELECT count(*) AS n FROM audit_events")).rows[0].n);
  assert.equal(await count(), before);

  // What a rebuild in another process does first (under the checkpoint lock).
  await admin.query("BEGIN");
  await admin.query("SELECT projection FROM projection_checkpoints ORDER BY projection FOR UPDATE");
  await admin.query("TRUNCATE audit_events");
  await admin.query(
    "UPDATE projection_checkpoints SET last_seq = 0, last_occurred_at = NULL WHERE projection = 'audit'",
  );
  await admin.query("COMMIT");

  // A new event arrives before the rebuild has replayed anything.
  for (const a of changeHistory(5, Date.UTC(2026, 0, 1), "g").slice(0, 1)) await store.append(a as AnyEvent[]);
  const last = await store.lastSeq();

  const cp = await waitFor(
    "the audit checkpoint to reach the stream's end",
    async () => {
      const r = await admin.query("SELECT last_seq FROM projection_checkpoints WHERE projection = 'audit'");
      const seq = Number(r.rows[0].last_seq);
      return seq >= last ? seq : null;
    },
    { timeoutMs: 20_000 },
  );
  assert.equal(cp, last);
  // Every stream message is in the chain, none skipped.
  assert.equal(await count(), last);
  const seqs = (await admin.query("SELECT event_seq FROM audit_events ORDER BY seq")).rows.map((r) =>
    Number(r.event_seq),
  );
  assert.deepEqual(
    seqs,
    Array.from({ length: last }, (_, i) => i + 1),
  );
});

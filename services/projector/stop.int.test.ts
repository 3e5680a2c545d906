import assert from "node:assert/strict";
import { after, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { createDb } from "../../lib/db/index.ts";
import { createEventStore } from "../../lib/eventstore/index.ts";
import { projections } from "../../projections/index.ts";
import { natsOptions, testEnv, uniqueName } from "../../test/support/index.ts";
import { createProjector } from "./projector.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Resolves with how long `promise` took, or rejects once `ms` have passed. */
async function within(what: string, promise: Promise<unknown>, ms: number): Promise<number> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, timeout]);
    return Date.now() - started;
  } finally {
    clearTimeout(timer);
  }
}

// A failed start-up of the embedded process stops the projector a moment after it started, while its loop is still
// opening connections; the abort then fired before the reader listened for it, and on a quiet stream stop() hung.
test("stop() right after start() returns, on a stream with nothing to read", async () => {
  const prefix = uniqueName("t_pjstop");
  const schema = uniqueName("t_pjstop");
  const nc = await connect(natsOptions());
  const store = createEventStore({ nc, prefix });
  await store.provision();
  const db = await createDb({ url: testEnv.pgUrl, schema });
  cleanups.push(async () => {
    const jsm = await store.manager();
    for (const name of Object.values(store.streams)) await jsm.streams.delete(name).catch(() => {});
    const admin = new pg.Client({ connectionString: testEnv.pgUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await db.close();
    await nc.close();
  });

  for (let round = 0; round < 5; round++) {
    const projector = createProjector({ nc, store, db, projections });
    await projector.start();
    await within(`stop() in round ${round}`, projector.stop(), 5_000);
    assert.equal(projector.running, false);
  }
});

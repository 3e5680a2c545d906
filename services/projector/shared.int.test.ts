/**
 * Two projectors on one database (two Wheelhouse processes) share the read models instead of both
 * doing all the work: each projection has one writer, every event is folded into each read model
 * once in total, and the rows are those a single projector writes. When one stops, the other takes
 * its projections over.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { createDb, type Db } from "../../lib/db/index.ts";
import { createEventStore, type EventStore } from "../../lib/eventstore/index.ts";
import { changeHistory } from "../../projections/fixtures.ts";
import { projections } from "../../projections/index.ts";
import type { Projection } from "../../projections/types.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  readModelRows,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";
import { createProjector, type Projector } from "./projector.ts";

/** How many times each instance folded each (projection, stream sequence). */
type Folds = Map<string, number>;

/** The read models, each of whose writers counts what it folds into `folds`. */
function counted(folds: Folds): Projection[] {
  return projections.map((p) => ({
    ...p,
    createWriter() {
      const writer = p.createWriter();
      return {
        async prepare(db, events, unprojected) {
          for (const seq of [...events.map((e) => e.seq), ...unprojected.map((u) => u.seq)]) {
            const key = `${p.name}:${seq}`;
            folds.set(key, (folds.get(key) ?? 0) + 1);
          }
          return writer.prepare(db, events, unprojected);
        },
        reset: () => writer.reset(),
      };
    },
  }));
}

const snapshot = (schema: string) =>
  readModelRows(
    schema,
    projections.flatMap((p) => p.tables),
  );

describe("two projectors on one database", () => {
  const prefix = uniqueName("t_pjshare");
  const shared = prefix;
  const single = `${prefix}_single`;
  let nc: NatsConnection;
  let store: EventStore;
  const dbs: Db[] = [];
  const running: Projector[] = [];

  before(async () => {
    nc = await connectTestNats();
    store = createEventStore({ nc, prefix });
    await store.provision();
  });
  after(async () => {
    for (const p of running) await p.stop();
    for (const d of dbs) await d.close();
    await deleteStreams(nc, prefix);
    await dropSchemas(shared, single);
    await nc.close();
  });

  const db = async (schema: string) => {
    const d = await createDb({ url: testEnv.pgUrl, schema });
    dbs.push(d);
    return d;
  };
  const appendChanges = async (from: number, to: number) => {
    for (let n = from; n < to; n++) for (const a of changeHistory(n, Date.UTC(2026, 0, 1), "s")) await store.append(a);
  };

  test("share the projections, fold every event once in total, write what one projector writes", async () => {
    await appendChanges(0, 10);
    const folds: [Folds, Folds] = [new Map(), new Map()];
    const a = createProjector({ nc, store, db: await db(shared), projections: counted(folds[0]), batchSize: 25 });
    const b = createProjector({ nc, store, db: await db(shared), projections: counted(folds[1]), batchSize: 25 });
    running.push(a, b);
    await Promise.all([a.start(), b.start()]);
    const all = projections.length;
    await waitFor(
      "the two instances to split the projections",
      () => a.holding.size > 0 && b.holding.size > 0 && a.holding.size + b.holding.size === all,
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(
      [...a.holding].filter((n) => b.holding.has(n)),
      [],
      "no projection has two writers",
    );

    await appendChanges(10, 30);
    await a.catchUp();
    await b.catchUp();

    // One instance stops (as a process going away): the other takes its projections over.
    await a.stop();
    await waitFor("b holding every projection", () => b.holding.size === all, { timeoutMs: 10_000 });
    await appendChanges(30, 40);
    await b.catchUp();

    const last = await store.lastSeq();
    const total = new Map<string, number>();
    for (const f of folds) for (const [k, n] of f) total.set(k, (total.get(k) ?? 0) + n);
    const twice = [...total].filter(([, n]) => n !== 1);
    assert.deepEqual(twice, [], "every (projection, event) folded exactly once across both instances");
    assert.ok(folds[0].size > 0 && folds[1].size > 0, "both instances did part of the work");
    for (const p of projections.filter((p) => p.recordsUnprojected)) {
      for (let seq = 1; seq <= last; seq++) assert.equal(total.get(`${p.name}:${seq}`), 1, `${p.name} at ${seq}`);
    }

    const alone = createProjector({ nc, store, db: await db(single), projections });
    running.push(alone);
    await alone.start();
    await alone.catchUp();
    assert.deepEqual(await snapshot(shared), await snapshot(single), "rows identical to a single projector's");
  });
});

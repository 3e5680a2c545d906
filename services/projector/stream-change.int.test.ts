/**
 * The read models live in Postgres, the stream in NATS (under `.data/` locally).
 * A stream deleted and created again numbers its events from 1 again: the
 * projector must not read it from the old stream's checkpoints (it would skip
 * the new stream's first events), but refuse with the fix, or rebuild when
 * configured to.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import type pg from "pg";
import { createDb, type Db } from "../../lib/db/index.ts";
import { createEventStore, type EventStore, STREAM_ID_KEY, streamConfigs } from "../../lib/eventstore/index.ts";
import { changeHistory } from "../../projections/fixtures.ts";
import { projections } from "../../projections/index.ts";
import { createReadModelQueries } from "../../projections/queries.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  schemaPool,
  testEnv,
  uniqueName,
} from "../../test/support/index.ts";
import { createProjector, type Projector, StreamChangedError } from "./projector.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const base = Date.UTC(2026, 0, 1);
const queriesOf = (d: Db) => createReadModelQueries(d.pool);

describe("checkpoints are bound to the events stream's identity", () => {
  const prefix = uniqueName("t_streamid");
  const legacyPrefix = uniqueName("t_streamid_old");
  const schema = prefix;
  let nc: NatsConnection;
  let store: EventStore;
  let db: Db;
  let admin: pg.Pool;
  // Every projector a test makes, stopped in after() too: one a failed assertion left running would keep
  // this file's process alive.
  const projectors: Projector[] = [];
  const projectorFor = (deps: Parameters<typeof createProjector>[0]): Projector => {
    const projector = createProjector(deps);
    projectors.push(projector);
    return projector;
  };

  before(async () => {
    nc = await connectTestNats();
    store = createEventStore({ nc, prefix });
    db = await createDb({ url: testEnv.pgUrl, schema });
    admin = schemaPool(schema);
  });

  after(async () => {
    for (const projector of projectors) await projector.stop();
    await deleteStreams(nc, prefix, legacyPrefix);
    await admin.end();
    await db.close();
    await dropSchemas(schema);
    await nc.close();
  });

  const checkpoints = async () =>
    (
      await admin.query<{ projection: string; last_seq: string; stream_id: string | null }>(
        "SELECT projection, last_seq, stream_id FROM projection_checkpoints ORDER BY projection",
      )
    ).rows.map((r) => ({ last_seq: Number(r.last_seq), stream_id: r.stream_id }));

  async function recreateStreams() {
    const jsm = await store.manager();
    for (const name of Object.values(store.streams)) await jsm.streams.delete(name);
    await store.provision();
  }

  test("a stream created again is refused with both identities and the fix, or rebuilt when configured", async () => {
    await store.provision();
    const first = await store.identity();
    assert.match(first.id, UUID);
    await store.provision();
    assert.equal((await store.identity()).id, first.id, "provisioning again keeps the identity");

    for (let n = 0; n < 4; n++) for (const a of changeHistory(n, base, "a")) await store.append(a);
    const p1 = projectorFor({ nc, store, db, projections });
    await p1.start();
    await p1.catchUp();
    await p1.stop();
    const oldEnd = await store.lastSeq();
    assert.ok((await checkpoints()).every((c) => c.stream_id === first.id && c.last_seq === oldEnd));
    assert.equal((await queriesOf(db).getPlan("a-plan-0"))?.status, "approved");

    // What deleting .data/ does: the same stream name, a new stream, numbered from 1 again, shorter than before.
    await recreateStreams();
    const second = await store.identity();
    assert.match(second.id, UUID);
    assert.notEqual(second.id, first.id);
    for (const a of changeHistory(0, base, "b")) await store.append(a);
    const newEnd = await store.lastSeq();
    assert.ok(newEnd < oldEnd, "the old checkpoints would skip every event of the new stream");

    const refusing = projectorFor({ nc, store, db, projections });
    await assert.rejects(refusing.start(), (e: unknown) => {
      assert.ok(e instanceof StreamChangedError, String(e));
      assert.ok(e.message.includes(first.id) && e.message.includes(second.id), e.message);
      assert.match(e.fix ?? "", /rebuild/);
      assert.match(e.fix ?? "", /projector_rebuild_on_stream_change/);
      return true;
    });
    assert.equal(refusing.running, false);
    assert.equal(await queriesOf(db).getPlan("b-plan-0"), null);
    assert.ok(
      (await checkpoints()).every((c) => c.stream_id === first.id),
      "a refusal changes nothing",
    );
    const lag = await refusing.lag();
    assert.ok(
      lag.every((l) => l.stream_changed && l.events_behind === newEnd),
      JSON.stringify(lag),
    );

    const rebuilding = projectorFor({ nc, store, db, projections, rebuildOnStreamChange: true });
    await rebuilding.start();
    await rebuilding.catchUp();
    await rebuilding.stop();
    assert.equal((await queriesOf(db).getPlan("b-plan-0"))?.status, "approved");
    assert.equal(await queriesOf(db).getPlan("a-plan-1"), null, "the old stream's read models are gone");
    assert.ok((await checkpoints()).every((c) => c.stream_id === second.id && c.last_seq === newEnd));
    const seqs = (await admin.query("SELECT event_seq FROM audit_events ORDER BY seq")).rows.map((r) =>
      Number(r.event_seq),
    );
    assert.deepEqual(
      seqs,
      Array.from({ length: newEnd }, (_, i) => i + 1),
    );
  });

  test("checkpoints from before identities that are past the stream's end are refused; a rebuild binds them", async () => {
    const end = await store.lastSeq();
    await admin.query("UPDATE projection_checkpoints SET stream_id = NULL, last_seq = $1", [end + 40]);
    const projector = projectorFor({ nc, store, db, projections });
    await assert.rejects(projector.start(), (e: unknown) => {
      assert.ok(e instanceof StreamChangedError, String(e));
      assert.match(e.message, new RegExp(`projected up to seq ${end + 40}, but .* ends at seq ${end}`));
      return true;
    });
    await projector.rebuild();
    const id = (await store.identity()).id;
    assert.ok((await checkpoints()).every((c) => c.stream_id === id && c.last_seq === end));
    assert.equal((await queriesOf(db).getPlan("b-plan-0"))?.status, "approved");
  });

  test("a stream created before identities gets one from its creation time, the same from every process", async () => {
    const legacy = createEventStore({ nc, prefix: legacyPrefix });
    const jsm = await legacy.manager();
    const [events] = streamConfigs(legacyPrefix);
    assert.ok(events);
    await jsm.streams.add(events);
    assert.equal((await jsm.streams.info(legacy.streams.events)).config.metadata?.[STREAM_ID_KEY], undefined);
    const other = createEventStore({ nc, prefix: legacyPrefix });
    await Promise.all([legacy.provision(), other.provision()]);
    const info = await jsm.streams.info(legacy.streams.events);
    assert.equal(info.config.metadata?.[STREAM_ID_KEY], `created-${info.created}`);
    assert.equal((await other.identity()).id, `created-${info.created}`);
  });
});

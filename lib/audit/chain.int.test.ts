/**
 * The audit chain against real Postgres: append in batches, then tamper with
 * rows directly (as someone with database access would) and check that the
 * verifier names the exact record.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import { createPool, sql } from "slonik";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { newEvent } from "../../events/index.ts";
import { createTestSchema, type TestSchema } from "../../test/support/index.ts";
import { slonikSqlClient } from "../db/sql.ts";
import { appendAuditEvents } from "./append.ts";
import { readHead } from "./table.ts";
import { verifyAuditChain } from "./verify.ts";

const actor = { kind: "user" as const, id: "alice", roles: ["operator" as const] };

function scenario(count: number, startSeq = 1): AnyRecordedEvent[] {
  const out: AnyRecordedEvent[] = [];
  for (let i = 0; i < count; i++) {
    const planId = `plan-${Math.floor(i / 3)}`;
    const e = newEvent(
      "plan.requested",
      planId,
      { plan_id: planId, intent: `change number ${i}`, source: "api", service: i % 2 ? "checkout" : "cart" },
      { actor, correlation_id: `corr-${planId}` },
    );
    out.push({ ...e, seq: startSeq + i, stream: "T_EVENTS", subject: `t.evt.plan.${planId}` });
  }
  return out;
}

describe("audit chain (Postgres)", () => {
  let schema: TestSchema;

  before(async () => {
    schema = await createTestSchema("audit_chain");
  });
  after(async () => {
    await schema.drop();
  });

  async function fresh(name: string, count = 10): Promise<{ db: pg.Pool; events: AnyRecordedEvent[] }> {
    const db = await schema.subSchema(name);
    const events = scenario(count);
    const client = await db.connect();
    try {
      await client.query("BEGIN");
      await appendAuditEvents(client, events.slice(0, 4));
      await appendAuditEvents(client, events.slice(4));
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    return { db, events };
  }

  // Tampering goes around the append-only trigger the way a superuser would.
  async function tamper(db: pg.Pool, ...statements: string[]): Promise<void> {
    const client = await db.connect();
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL session_replication_role = replica");
      for (const s of statements) await client.query(s);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
  }

  it("appends in batches and verifies an intact chain", async () => {
    const { db, events } = await fresh("intact", 25);
    const result = await verifyAuditChain(db, { pageSize: 7 });
    assert.equal(result.ok, true, JSON.stringify(result.failure));
    assert.equal(result.checked, 25);
    assert.deepEqual(result.head, await readHead(db));
    const again = await appendAuditEvents(db, events.slice(10, 12));
    assert.equal(again.appended, 0, "a redelivered event is not recorded twice");
    assert.equal((await verifyAuditChain(db)).checked, 25);
    const from = await verifyAuditChain(db, { from: 20 });
    assert.equal(from.ok, true);
    assert.equal(from.checked, 6);
  });

  it("refuses UPDATE and DELETE through a normal session", async () => {
    const { db } = await fresh("appendonly", 3);
    await assert.rejects(db.query("UPDATE audit_events SET outcome = 'x' WHERE seq = 1"), /append-only/);
    await assert.rejects(db.query("DELETE FROM audit_events WHERE seq = 1"), /append-only/);
  });

  it("names an altered record", async () => {
    const { db, events } = await fresh("altered");
    await tamper(
      db,
      `UPDATE audit_events SET payload = jsonb_set(payload, '{intent}', '"something else"') WHERE seq = 6`,
    );
    const result = await verifyAuditChain(db, { pageSize: 4 });
    assert.equal(result.ok, false);
    assert.equal(result.failure?.kind, "altered");
    assert.equal(result.failure?.seq, 6);
    assert.equal(result.failure?.event_id, events[5]?.id);
    assert.equal(result.checked, 5);
  });

  it("names an altered column outside the payload (actor)", async () => {
    const { db, events } = await fresh("altered_actor");
    await tamper(db, `UPDATE audit_events SET actor = jsonb_set(actor, '{id}', '"mallory"') WHERE seq = 2`);
    const result = await verifyAuditChain(db);
    assert.equal(result.failure?.kind, "altered");
    assert.equal(result.failure?.event_id, events[1]?.id);
  });

  it("names a record whose hashed text was rewritten, columns and all", async () => {
    const { db, events } = await fresh("altered_text");
    await tamper(
      db,
      `UPDATE audit_events SET outcome = 'denied',
         record = replace(record, '"outcome":null', '"outcome":"denied"') WHERE seq = 3`,
    );
    const result = await verifyAuditChain(db);
    assert.equal(result.failure?.kind, "altered");
    assert.equal(result.failure?.seq, 3);
    assert.equal(result.failure?.event_id, events[2]?.id);
    assert.match(result.failure?.message ?? "", /no longer matches its hash/);
  });

  it("names a deleted record (gap in positions)", async () => {
    const { db } = await fresh("deleted");
    await tamper(db, "DELETE FROM audit_events WHERE seq = 4");
    const result = await verifyAuditChain(db);
    assert.equal(result.failure?.kind, "deleted");
    assert.equal(result.failure?.seq, 4);
    assert.match(result.failure?.message ?? "", /4\.\.4 are missing/);
  });

  it("names a deleted record even when the rest were renumbered to hide the gap", async () => {
    const { db, events } = await fresh("deleted_renumbered");
    await tamper(db, "DELETE FROM audit_events WHERE seq = 4", "UPDATE audit_events SET seq = seq - 1 WHERE seq > 4");
    const result = await verifyAuditChain(db);
    assert.equal(result.failure?.kind, "deleted");
    assert.equal(result.failure?.seq, 4);
    assert.equal(result.failure?.event_id, events[4]?.id, "names the record right after the hole");
  });

  it("names a reordered record", async () => {
    const { db, events } = await fresh("reordered");
    await tamper(
      db,
      "UPDATE audit_events SET seq = -7 WHERE seq = 7",
      "UPDATE audit_events SET seq = 7 WHERE seq = 8",
      "UPDATE audit_events SET seq = 8 WHERE seq = -7",
    );
    const result = await verifyAuditChain(db);
    assert.equal(result.failure?.kind, "reordered");
    assert.equal(result.failure?.seq, 7);
    assert.equal(result.failure?.event_id, events[7]?.id);
    assert.match(result.failure?.message ?? "", /chained after record 8/);
  });

  it("appends inside a slonik transaction (the projector's) and verifies through slonik too", async () => {
    const db = await schema.subSchema("slonik");
    const slonik = await createPool(`${schema.url}?options=-c%20search_path%3D${schema.name}_slonik`);
    try {
      const events = scenario(12);
      await slonik.transaction(async (tx) => {
        await appendAuditEvents(slonikSqlClient(tx), events.slice(0, 5));
        await appendAuditEvents(slonikSqlClient(tx), events.slice(5));
      });
      const viaSlonik = await verifyAuditChain(slonikSqlClient(slonik), { pageSize: 5 });
      assert.equal(viaSlonik.ok, true, JSON.stringify(viaSlonik.failure));
      assert.equal(viaSlonik.checked, 12);
      assert.deepEqual(await verifyAuditChain(db), viaSlonik);
      const rolledBack = slonik.transaction(async (tx) => {
        await appendAuditEvents(slonikSqlClient(tx), scenario(2, 100));
        await tx.query(sql.unsafe`SELECT 1/0`);
      });
      await assert.rejects(rolledBack, /division by zero/);
      assert.equal((await verifyAuditChain(db)).checked, 12, "a failed projector transaction leaves no record behind");
    } finally {
      await slonik.end();
    }
  });
});

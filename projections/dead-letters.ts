/**
 * The projector's dead letters (`dead_letters`): messages it set aside
 * because it could not project them, with the reason and the bytes.
 */
import { type Queryable, sql } from "../lib/db/sql.ts";

export interface DeadLetterRow {
  id: number;
  consumer: string;
  stream: string;
  seq: number;
  subject: string;
  event_id: string | null;
  event_type: string | null;
  reason: string;
  error: string;
  deliveries: number;
  data: string;
  created_at: string;
}

/** Every dead letter, oldest first; only those of `consumer` when given. */
export async function listDeadLetters(db: Queryable, consumer?: string): Promise<DeadLetterRow[]> {
  return (await db.any(
    consumer === undefined
      ? sql.unsafe`SELECT * FROM dead_letters ORDER BY id`
      : sql.unsafe`SELECT * FROM dead_letters WHERE consumer = ${consumer} ORDER BY id`,
  )) as unknown as DeadLetterRow[];
}

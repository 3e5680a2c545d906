/** Read queries on the evidence read model. */
import { type Queryable, sql } from "../../lib/db/sql.ts";
import type { EvidenceRow } from "./rows.ts";

export async function listEvidence(db: Queryable, ownerType: string, ownerId: string): Promise<EvidenceRow[]> {
  return (await db.any(
    sql.unsafe`SELECT * FROM evidence WHERE owner_type = ${ownerType} AND owner_id = ${ownerId}
               ORDER BY created_at, evidence_id`,
  )) as unknown as EvidenceRow[];
}

export async function getEvidence(db: Queryable, evidenceId: string): Promise<EvidenceRow | null> {
  return (await db.maybeOne(
    sql.unsafe`SELECT * FROM evidence WHERE evidence_id = ${evidenceId}`,
  )) as EvidenceRow | null;
}

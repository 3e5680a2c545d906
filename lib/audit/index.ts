/**
 * The audit trail: every event becomes a hash-chained audit record (written
 * by `projections/audit` in the projector's transaction), verifiable end to
 * end, queryable, exportable with its proof, and replayable as of any time.
 *
 * ```ts
 * await appendAuditEvents(tx, events);                 // projector, in its transaction
 * const state = await verifyAuditChain(db);            // { ok, checked, head, failure }
 * const audit = createAuditQueries({ db, eventStore, evidenceStore, folds }); // folds: projections/replay.ts
 * const story = await audit.explainChange(planId);
 * ```
 *
 * There is no API to update, delete or purge audit records.
 */

export type { AuditAppender, AuditAppendResult, AuditEntry, AuditInsert } from "./append.ts";
export { appendAuditEvent, appendAuditEvents, createAuditAppender } from "./append.ts";
export { canonicalize } from "./canonical.ts";
export type { ChangeExplanation, EventRef, EvidenceLink, ExecutionStory } from "./explanation.ts";
export type {
  AsOf,
  AsOfFolds,
  AuditEventView,
  AuditFilters,
  AuditListQuery,
  AuditPage,
  AuditQueries,
  AuditQueriesDeps,
  AuditVerification,
} from "./queries.ts";
export { createAuditQueries } from "./queries.ts";
export type { AuditRecord, AuditRecordBody } from "./record.ts";
export { auditBody, chainHash, chainRecords, deriveOutcome, GENESIS_HASH } from "./record.ts";
export { readHead } from "./table.ts";
export type { ChainFailure, ChainFailureKind, ChainVerification, VerifyOptions } from "./verify.ts";
export { verifyAuditChain } from "./verify.ts";

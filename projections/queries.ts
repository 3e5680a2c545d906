/**
 * The read models' queries in one object, bound to one slonik pool (or
 * transaction): what a service that reads the read models is given. Each
 * query also stands alone in `projections/<readModel>/queries.ts`.
 *
 * ```ts
 * const readModels = createReadModelQueries(db.pool);
 * const plan = await readModels.getPlan(planId);        // null when there is none
 * const page = await readModels.listPlans({ status: "pending_approval", limit: 20 });
 * ```
 */
import type { Page, Queryable } from "../lib/db/sql.ts";
import {
  type ContextService,
  type ContextServiceDetail,
  getContextServices,
  listContextServices,
} from "./context/queries.ts";
import { type DeadLetterRow, listDeadLetters } from "./dead-letters.ts";
import { getEvidence, listEvidence } from "./evidence/queries.ts";
import type { EvidenceRow } from "./evidence/rows.ts";
import {
  type ExecutionDetail,
  type ExecutionMeasurements,
  getExecution,
  getExecutionMeasurements,
  type ListExecutionsQuery,
  listExecutions,
} from "./executions/queries.ts";
import type { ExecutionRow } from "./executions/rows.ts";
import { getPlan, type ListPlansQuery, listPlans, type PlanDetail } from "./plans/queries.ts";
import type { PlanRow } from "./plans/rows.ts";

export interface ReadModelQueries {
  getPlan(planId: string): Promise<PlanDetail | null>;
  listPlans(query?: ListPlansQuery): Promise<Page<PlanRow>>;
  getExecution(executionId: string): Promise<ExecutionDetail | null>;
  listExecutions(query?: ListExecutionsQuery): Promise<Page<ExecutionRow>>;
  /** An execution's verification measurements and the steps they verify; null when there is no such execution. */
  getExecutionMeasurements(executionId: string): Promise<ExecutionMeasurements | null>;
  listContextServices(): Promise<ContextService[]>;
  /** The service nodes named `name` (one per environment, or the one in `environment`) with their neighbours. */
  getContextServices(name: string, environment?: string): Promise<ContextServiceDetail[]>;
  getEvidence(evidenceId: string): Promise<EvidenceRow | null>;
  listEvidence(ownerType: string, ownerId: string): Promise<EvidenceRow[]>;
  listDeadLetters(consumer?: string): Promise<DeadLetterRow[]>;
}

export function createReadModelQueries(db: Queryable): ReadModelQueries {
  return {
    getPlan: (planId) => getPlan(db, planId),
    listPlans: (query) => listPlans(db, query),
    getExecution: (executionId) => getExecution(db, executionId),
    listExecutions: (query) => listExecutions(db, query),
    getExecutionMeasurements: (executionId) => getExecutionMeasurements(db, executionId),
    listContextServices: () => listContextServices(db),
    getContextServices: (name, environment) => getContextServices(db, name, environment),
    getEvidence: (evidenceId) => getEvidence(db, evidenceId),
    listEvidence: (ownerType, ownerId) => listEvidence(db, ownerType, ownerId),
    listDeadLetters: (consumer) => listDeadLetters(db, consumer),
  };
}

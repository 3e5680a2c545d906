/**
 * The projection registry: every read model the projector maintains, in the
 * order it applies them within a batch. Add a read model with one line.
 */
import { auditProjection } from "./audit/index.ts";
import { contextProjection } from "./context/index.ts";
import { evidenceProjection } from "./evidence/index.ts";
import { executionsProjection } from "./executions/index.ts";
import { plansProjection } from "./plans/index.ts";
import type { Projection } from "./types.ts";

export type { Projection, Tx } from "./types.ts";

export const projections: readonly Projection[] = [
  plansProjection,
  executionsProjection,
  evidenceProjection,
  contextProjection,
  auditProjection,
];

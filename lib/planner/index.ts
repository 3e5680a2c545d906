/**
 * The planner: intent in, a typed plan of tool-catalog steps out. The LLM
 * proposes (constrained to the catalog's schemas and checked against them);
 * the template planner covers the common intents with no LLM at all.
 */
export { type CheckScope, checkDraft, type DraftCheck, repairMessage } from "./check.ts";
export {
  intentFromAlert,
  type ParseResult,
  parseIntent,
  TEMPLATE_EXAMPLES,
  type TemplateIntent,
} from "./intent.ts";
export { createPlanner, type Planner, type PlannerDeps } from "./planner.ts";
export { buildPrompt, buildSystemPrompt, type Prompt } from "./prompt.ts";
export { buildPlanSchema, MAX_STEPS, PLAN_SCHEMA_NAME } from "./schema.ts";
export {
  type ContextSnapshot,
  type GraphService,
  inScope,
  type SnapshotScope,
  snapshotBody,
  snapshotOf,
  snapshotRef,
} from "./snapshot.ts";
export {
  buildTemplatePlan,
  type ErrorRatioOptions,
  errorRatioQuery,
  findService,
  TemplateError,
  type TemplateOptions,
} from "./template.ts";
export {
  type AlertSignal,
  type EvidenceText,
  type Plan,
  type PlannerInfo,
  type PlanningContext,
  PlanningFailedError,
  type PlanRequest,
  type PlanResult,
  type PlanSource,
  type PlanStep,
  type PlanTranscript,
  type ServiceContext,
} from "./types.ts";

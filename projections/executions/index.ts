/**
 * Read model `executions` (+ `tool_calls`, `execution_measurements`): one run of a plan revision,
 * the tool calls it made and its verification's measurements.
 */
import type { Projection } from "../types.ts";
import { EXECUTION_EVENT_TYPES } from "./fold.ts";
import { createExecutionsWriter } from "./sql.ts";

export { EXECUTION_EVENT_TYPES, type ExecutionView, evolveExecutionView, foldExecutionView } from "./fold.ts";
export { measurementId, measurementRows, measurementsTable } from "./measurements.ts";
export * from "./queries.ts";
export type * from "./rows.ts";
export { createExecutionsWriter, upsertExecutions, upsertToolCalls } from "./sql.ts";

export const executionsProjection: Projection = {
  name: "executions",
  tables: ["tool_calls", "executions", "execution_measurements"],
  handles: EXECUTION_EVENT_TYPES,
  createWriter: () => createExecutionsWriter(),
};

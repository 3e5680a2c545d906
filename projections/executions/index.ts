/** Read model `executions` (+ `tool_calls`): one run of a plan revision and the tool calls it made. */
import type { AnyRecordedEvent } from "../../events/index.ts";
import type { Projection, Tx } from "../types.ts";
import { EXECUTION_EVENT_TYPES, type ExecutionView, evolveExecution } from "./fold.ts";
import { loadExecutionViews, saveExecutionViews } from "./sql.ts";

export { EXECUTION_EVENT_TYPES, type ExecutionView, evolveExecution } from "./fold.ts";
export * from "./queries.ts";
export { upsertExecutions, upsertToolCalls } from "./sql.ts";

export const executionsProjection: Projection = {
  name: "executions",
  tables: ["tool_calls", "executions"],
  handles: EXECUTION_EVENT_TYPES,
  async applyBatch(tx: Tx, events: readonly AnyRecordedEvent[]) {
    const views = await loadExecutionViews(tx, [...new Set(events.map((e) => e.aggregate_id))]);
    const changed = new Map<string, ExecutionView>();
    for (const e of events) {
      const next = evolveExecution(views.get(e.aggregate_id) ?? null, e);
      if (next) {
        views.set(e.aggregate_id, next);
        changed.set(e.aggregate_id, next);
      }
    }
    await saveExecutionViews(tx, changed.values());
  },
};

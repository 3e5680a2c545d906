/**
 * The JSON schema the model answers in, generated from the tool catalog: one
 * `anyOf` branch per action pairing its `action_id` with its own input
 * schema, so the model sees exactly what each action accepts. The planner
 * still checks every answer itself (`checkDraft`): providers differ in how
 * much of JSON Schema they enforce.
 */
import type { Catalog, CatalogAction } from "../tools/index.ts";

export const PLAN_SCHEMA_NAME = "wheelhouse_plan";
export const MAX_STEPS = 20;

type Schema = Record<string, unknown>;

/** Drops keywords that only make sense at a document's root. */
function embeddable(schema: Readonly<Record<string, unknown>>): Schema {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

const TARGET: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["environment"],
  properties: {
    environment: { type: "string", minLength: 1, description: "Environment the step acts on, e.g. staging." },
    service: { type: "string" },
    namespace: { type: "string" },
    cluster: { type: "string" },
    account: { type: "string" },
  },
};

const count = (minimum: number, maximum: number): Schema => ({ type: "integer", minimum, maximum });

/** `verification.analysis` (events/plan.ts); lib/planner/check.ts parses its conditions, query and path. */
const ANALYSIS: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["provider", "query", "success_condition"],
  description: "Measure the effect: every interval_seconds, count times; empty, NaN or failed reads are inconclusive.",
  properties: {
    provider: { type: "string", enum: ["prometheus", "tempo", "kubectl"] },
    query: {
      type: "string",
      maxLength: 2000,
      description:
        "prometheus: PromQL answering one sample. tempo: TraceQL. kubectl: path of the value in the verification read's JSON output, e.g. .status.readyReplicas ?? 0",
    },
    success_condition: {
      type: "string",
      maxLength: 200,
      description: "Comparison of result: result < 0.05, result == input.replicas (the step's input), a && b, a || b",
    },
    failure_condition: { type: "string", maxLength: 200 },
    initial_delay_seconds: count(0, 3600),
    interval_seconds: count(1, 3600),
    count: count(1, 100),
    failure_limit: count(0, 100),
    inconclusive_limit: count(0, 100),
    on_inconclusive: { type: "string", enum: ["fail", "pause"] },
    pause_timeout_seconds: count(60, 86_400),
    tempo: {
      type: "object",
      additionalProperties: false,
      properties: {
        tags: { type: "string" },
        window_seconds: count(10, 86_400),
        limit: count(1, 1000),
        measure: { type: "string", enum: ["count", "max_duration_ms"] },
      },
    },
  },
};

function stepSchema(action: CatalogAction, catalog: Catalog): Schema {
  const reads = catalog.actions().filter((a) => a.kind === "read");
  const write = action.kind === "write";
  const rollbackAction = action.rollback ? catalog.get(action.rollback) : null;
  const properties: Schema = {
    step_id: { type: "string", pattern: "^[a-z0-9_-]{1,32}$", description: "s1, s2, ... in order." },
    action_id: { type: "string", enum: [action.id], description: action.description },
    input: embeddable(action.input),
    target: TARGET,
    rationale: { type: "string", minLength: 1, description: "Why this step, in one or two sentences." },
  };
  if (write) {
    properties.expected_effect = { type: "string", minLength: 1, description: "What changes when this step succeeds." };
    properties.verification = {
      type: "object",
      additionalProperties: false,
      required: ["description"],
      properties: {
        description: { type: "string", minLength: 1 },
        action_id: {
          type: "string",
          enum: reads.map((a) => a.id),
          description: "A read action that checks the effect (measured by a kubectl analysis).",
        },
        input: { type: "object" },
        analysis: ANALYSIS,
      },
    };
    properties.rollback = rollbackAction
      ? {
          anyOf: [
            { type: "null" },
            {
              type: "object",
              additionalProperties: false,
              required: ["action_id", "input"],
              properties: {
                action_id: { type: "string", enum: [rollbackAction.id] },
                input: embeddable(rollbackAction.input),
              },
            },
          ],
        }
      : { type: "null", description: `${action.id} has no catalog rollback.` };
  }
  return {
    type: "object",
    additionalProperties: false,
    required: write
      ? ["step_id", "action_id", "input", "target", "rationale", "expected_effect", "verification", "rollback"]
      : ["step_id", "action_id", "input", "target", "rationale"],
    properties,
  };
}

/** The plan answer schema for `catalog` (optionally only some of its actions). */
export function buildPlanSchema(catalog: Catalog, actionIds?: readonly string[]): Schema {
  const actions = catalog.actions().filter((a) => !actionIds || actionIds.includes(a.id));
  return {
    type: "object",
    additionalProperties: false,
    required: ["summary", "steps"],
    properties: {
      summary: {
        type: "string",
        minLength: 1,
        maxLength: 1000,
        description: "What the plan does, in one or two sentences.",
      },
      steps: {
        type: "array",
        minItems: 1,
        maxItems: MAX_STEPS,
        items: { anyOf: actions.map((a) => stepSchema(a, catalog)) },
      },
    },
  };
}

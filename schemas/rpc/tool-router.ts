/**
 * The tool router's RPC contract, once: what the router accepts and answers,
 * what the orchestrator's client sends and reads. The router checks request
 * bodies against the JSON Schema generated from these shapes
 * (`toolRouterRequestJsonSchema`), so the check cannot drift from the types.
 *
 *   POST /rpc/ListTools       {}                      → ListToolsResult
 *   POST /rpc/ExecuteTool     ExecuteToolRequest      → ExecuteToolResult
 *   POST /rpc/GetResource     GetResourceRequest      → GetResourceResult
 *   POST /rpc/StreamToolLogs  StreamToolLogsRequest   → NDJSON, one ToolLogLine per line
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { ProblemSchema } from "../api/common.ts";
import { CatalogActionSchema } from "../tools/action.ts";

const ToolCallIdSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,128}$/));
const ActionIdSchema = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/));
const ToolInputSchema = v.record(v.string(), v.unknown());
/** How the router runs a call: the CLI, or the REST API fallback (gh only). */
const ViaSchema = v.picklist(["cli", "api"]);

export const ToolCallStatusSchema = v.picklist(["succeeded", "failed", "timed_out", "refused"]);
export type ToolCallStatus = v.InferOutput<typeof ToolCallStatusSchema>;

// ---------------------------------------------------------------- ListTools

export const ToolDescriptionSchema = v.object({
  ...CatalogActionSchema.entries,
  installed: v.boolean(),
  /** How the router would run it now: the CLI, the API fallback, or not at all. */
  via: v.nullable(ViaSchema),
});
export type ToolDescription = v.InferOutput<typeof ToolDescriptionSchema>;

export const ListToolsResultSchema = v.object({ tools: v.array(ToolDescriptionSchema) });
export type ListToolsResult = v.InferOutput<typeof ListToolsResultSchema>;

// ---------------------------------------------------------------- ExecuteTool

export const ExecuteToolRequestSchema = v.strictObject({
  action_id: ActionIdSchema,
  input: ToolInputSchema,
  dry_run: v.optional(v.boolean()),
  tool_call_id: v.optional(ToolCallIdSchema),
  execution_id: v.optional(ToolCallIdSchema),
  step_id: v.optional(ToolCallIdSchema),
  timeout_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1000), v.maxValue(3_600_000))),
});
export type ExecuteToolRequest = v.InferOutput<typeof ExecuteToolRequestSchema>;

const StreamSummarySchema = v.object({
  text: v.string(),
  sha256: v.string(),
  bytes: v.number(),
  truncated: v.boolean(),
});

export const ExecuteToolResultSchema = v.object({
  tool_call_id: v.string(),
  execution_id: v.string(),
  step_id: v.string(),
  action_id: v.string(),
  status: ToolCallStatusSchema,
  ok: v.boolean(),
  via: ViaSchema,
  /** The exact argv run (CLI), or the HTTP request made (API). */
  argv: v.array(v.string()),
  binary: v.string(),
  request: v.optional(v.object({ method: v.string(), url: v.string() })),
  exit_code: v.nullable(v.number()),
  signal: v.nullable(v.string()),
  duration_ms: v.number(),
  truncated: v.boolean(),
  stdout: StreamSummarySchema,
  stderr: StreamSummarySchema,
  /** Present for dry runs: what the change would do (server dry-run output, helm manifest, argocd diff). */
  dry_run: v.nullable(v.object({ diff: v.string() })),
  evidence: v.nullable(v.object({ evidence_id: v.string(), sha256: v.string() })),
});
export type ExecuteToolResult = v.InferOutput<typeof ExecuteToolResultSchema>;

// ---------------------------------------------------------------- GetResource

export const GetResourceRequestSchema = v.strictObject({
  action_id: ActionIdSchema,
  input: ToolInputSchema,
  execution_id: v.optional(ToolCallIdSchema),
  step_id: v.optional(ToolCallIdSchema),
});
export type GetResourceRequest = v.InferOutput<typeof GetResourceRequestSchema>;

export const GetResourceResultSchema = v.object({
  action_id: v.string(),
  /** Target attributes read through the catalog's `resource` mapping. */
  resource: v.record(v.string(), v.unknown()),
  /** Live state from the matching read action (parsed JSON), or null when there is none. */
  state: v.unknown(),
  read: v.nullable(v.object({ action_id: v.string(), tool_call_id: v.string(), status: ToolCallStatusSchema })),
  /**
   * The call that puts the state read back, where the router can make one from it (kubectl.apply:
   * the live objects, stored as an artifact, applied again); absent otherwise.
   */
  rollback: v.optional(
    v.object({
      action_id: v.string(),
      input: ToolInputSchema,
      /** What the rollback cannot undo. */
      note: v.optional(v.string()),
    }),
  ),
});
export type GetResourceResult = v.InferOutput<typeof GetResourceResultSchema>;

// ---------------------------------------------------------------- StreamToolLogs

export const StreamToolLogsRequestSchema = v.strictObject({
  tool_call_id: ToolCallIdSchema,
  /** The first line wanted; 0 (every kept line) when absent. */
  from_seq: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  /** How long to wait for a call that has not started yet; 30 s when absent. */
  wait_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(300_000))),
});
export type StreamToolLogsRequest = v.InferOutput<typeof StreamToolLogsRequestSchema>;

export const ToolLogMessageSchema = v.variant("type", [
  v.object({ type: v.literal("output"), seq: v.number(), stream: v.picklist(["stdout", "stderr"]), line: v.string() }),
  v.object({ type: v.literal("end"), status: ToolCallStatusSchema }),
]);
export type ToolLogMessage = v.InferOutput<typeof ToolLogMessageSchema>;

/** One NDJSON line of StreamToolLogs: a log message, or the problem that ended the stream. */
export const ToolLogLineSchema = v.variant("type", [
  ...ToolLogMessageSchema.options,
  v.object({ type: v.literal("error"), error: ProblemSchema }),
]);
export type ToolLogLine = v.InferOutput<typeof ToolLogLineSchema>;

// ---------------------------------------------------------------- the table

/** Every RPC with its request and answer; StreamToolLogs answers NDJSON, a `ToolLogLine` per line. */
export const TOOL_ROUTER_RPCS = {
  ListTools: { request: null, response: ListToolsResultSchema },
  ExecuteTool: { request: ExecuteToolRequestSchema, response: ExecuteToolResultSchema },
  GetResource: { request: GetResourceRequestSchema, response: GetResourceResultSchema },
  StreamToolLogs: { request: StreamToolLogsRequestSchema, response: ToolLogLineSchema },
} as const;
export type ToolRouterRpc = keyof typeof TOOL_ROUTER_RPCS;

/** The JSON Schema (draft-07, what Fastify's ajv speaks) of an RPC's request body, generated from its shape. */
export function toolRouterRequestJsonSchema(rpc: Exclude<ToolRouterRpc, "ListTools">): Record<string, unknown> {
  const { $schema: _, ...schema } = toJsonSchema(TOOL_ROUTER_RPCS[rpc].request, {
    target: "draft-07",
    typeMode: "input",
  }) as Record<string, unknown>;
  return schema;
}

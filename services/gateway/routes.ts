/** The route table: every endpoint's contract, the role it needs, and its transport-free handler. */
import {
  AcceptedSchema,
  ApprovalRequestSchema,
  AsOfQuerySchema,
  AuditExportLineSchema,
  AuditExportQuerySchema,
  AuditPageSchema,
  AuditQuerySchema,
  AuditVerificationSchema,
  AuditVerifyQuerySchema,
  CancelExecutionRequestSchema,
  ChangeExplanationSchema,
  CommandHeadersSchema,
  CommandQuerySchema,
  ContextServicesQuerySchema,
  CreatePlanRequestSchema,
  ExecutePlanRequestSchema,
  ExecutionAsOfSchema,
  ExecutionIdParamsSchema,
  ExecutionMeasurementsSchema,
  ExecutionPageSchema,
  ExecutionResponseSchema,
  ExplainQuerySchema,
  ListExecutionsQuerySchema,
  ListPlansQuerySchema,
  LogChunkSchema,
  LogStreamHeadersSchema,
  MeResponseSchema,
  PlanAsOfSchema,
  PlanIdParamsSchema,
  PlanPageSchema,
  PlanResponseSchema,
  ServiceDetailSchema,
  ServiceNameParamsSchema,
  ServicePageSchema,
  ServiceQuerySchema,
  VerdictExecutionRequestSchema,
  WsQuerySchema,
} from "../../schemas/api/index.ts";
import type { Handler, Route } from "./api.ts";
import { type WebhookHandlers, webhookRoutes } from "./webhook-routes.ts";

export interface RouteHandlers extends WebhookHandlers {
  createPlan: Handler;
  getPlan: Handler;
  listPlans: Handler;
  executePlan: Handler;
  cancelExecution: Handler;
  giveVerdict: Handler;
  decideApproval: Handler;
  getExecution: Handler;
  listExecutions: Handler;
  getExecutionMeasurements: Handler;
  getMe: Handler;
  listAuditEvents: Handler;
  exportAuditEvents: Handler;
  verifyAudit: Handler;
  planAsOf: Handler;
  executionAsOf: Handler;
  explainPlan: Handler;
  explainExecution: Handler;
  listServices: Handler;
  getService: Handler;
}

const NDJSON = "application/x-ndjson";
const exportDescription = `One RFC 8785 canonical JSON object per line: an \`audit_record\` per record
(oldest first) whose \`hash\` is \`sha256(prev_hash + record)\` over the line's \`record\` re-serialized
as RFC 8785 JSON (the two texts concatenated as UTF-8, hex digest; the first record's \`prev_hash\` is 64
zeros), then one \`chain_proof\` line with the chain head and whether the whole chain verified. Records
that match the filters are exported; the proof always covers the whole chain. Streamed as it is read:
a large trail is never held in memory. The trail cannot be changed or deleted through the API.`;

const accepted = { 202: { description: "Accepted: appended and acknowledged by JetStream", schema: AcceptedSchema } };

export function buildRoutes(h: RouteHandlers): Route[] {
  return [
    {
      method: "POST",
      path: "/v1/plans",
      operationId: "createPlan",
      summary: "Request a change in plain words; the planner proposes a plan for it",
      tags: ["plans"],
      access: "operator",
      command: true,
      body: CreatePlanRequestSchema,
      query: CommandQuerySchema,
      headers: CommandHeadersSchema,
      responses: accepted,
      handler: h.createPlan,
    },
    {
      method: "GET",
      path: "/v1/plans",
      operationId: "listPlans",
      summary: "List plans, newest first, filtered by status, service, environment, requester and creation time",
      tags: ["plans"],
      access: "viewer",
      query: ListPlansQuerySchema,
      responses: { 200: { description: "A page of plans", schema: PlanPageSchema } },
      handler: h.listPlans,
    },
    {
      method: "GET",
      path: "/v1/plans/{id}",
      operationId: "getPlan",
      summary: "Read one plan with its current revision's steps, policy decision and approvals",
      tags: ["plans"],
      access: "viewer",
      params: PlanIdParamsSchema,
      responses: { 200: { description: "The plan (ETag: its version)", schema: PlanResponseSchema } },
      handler: h.getPlan,
    },
    {
      method: "POST",
      path: "/v1/plans/{id}:execute",
      operationId: "executePlan",
      summary: "Run a plan revision that policy allows or that has its approvals",
      tags: ["plans", "executions"],
      access: "operator",
      command: true,
      params: PlanIdParamsSchema,
      body: ExecutePlanRequestSchema,
      query: CommandQuerySchema,
      headers: CommandHeadersSchema,
      responses: accepted,
      handler: h.executePlan,
    },
    {
      method: "POST",
      path: "/v1/approvals",
      operationId: "decideApproval",
      summary: "Grant or deny one plan revision",
      tags: ["approvals"],
      access: "approver",
      command: true,
      body: ApprovalRequestSchema,
      query: CommandQuerySchema,
      headers: CommandHeadersSchema,
      responses: accepted,
      handler: h.decideApproval,
    },
    {
      method: "GET",
      path: "/v1/executions",
      operationId: "listExecutions",
      summary: "List executions, newest first, filtered by plan, status, requester and creation time",
      tags: ["executions"],
      access: "viewer",
      query: ListExecutionsQuerySchema,
      responses: { 200: { description: "A page of executions", schema: ExecutionPageSchema } },
      handler: h.listExecutions,
    },
    {
      method: "GET",
      path: "/v1/executions/{id}",
      operationId: "getExecution",
      summary: "Read one execution with its steps and tool calls",
      tags: ["executions"],
      access: "viewer",
      params: ExecutionIdParamsSchema,
      responses: { 200: { description: "The execution", schema: ExecutionResponseSchema } },
      handler: h.getExecution,
    },
    {
      method: "POST",
      path: "/v1/executions/{id}:cancel",
      operationId: "cancelExecution",
      summary:
        "Ask a running execution to stop before its next step (whoever requested it or its plan, or an admin); it records execution.cancelled when it stops, without rolling back",
      tags: ["executions"],
      access: "operator",
      command: true,
      params: ExecutionIdParamsSchema,
      body: CancelExecutionRequestSchema,
      query: CommandQuerySchema,
      headers: CommandHeadersSchema,
      responses: accepted,
      handler: h.cancelExecution,
    },
    {
      method: "POST",
      path: "/v1/executions/{id}:verdict",
      operationId: "giveVerdict",
      summary:
        "Judge the verification analysis an execution has paused on (status paused; whoever requested it or its plan, or an admin): pass lets verification go on, fail fails it and rolls the change back",
      description:
        'Only an analysis that stayed inconclusive with `on_inconclusive: "pause"` takes a verdict, until its pause\'s deadline (the `execution.paused` event). 409 when the execution has ended, is not paused (the problem names what it is doing, and a verdict already given), or its pause has passed its deadline or is ended by a cancel.',
      tags: ["executions"],
      access: "operator",
      command: true,
      params: ExecutionIdParamsSchema,
      body: VerdictExecutionRequestSchema,
      query: CommandQuerySchema,
      headers: CommandHeadersSchema,
      responses: accepted,
      handler: h.giveVerdict,
    },
    {
      method: "GET",
      path: "/v1/executions/{id}/measurements",
      operationId: "getExecutionMeasurements",
      summary: "The execution's verification measurements, per step and query, with the thresholds they are judged by",
      description:
        "One series per step and query, measurements in attempt order (`execution.measured`), each with its value (null when there was none to read), outcome (pass, fail, inconclusive) and reason. `success_threshold`/`failure_threshold` are set where the step's condition is a single comparison of the value with a number.",
      tags: ["executions"],
      access: "viewer",
      params: ExecutionIdParamsSchema,
      responses: { 200: { description: "The measurements", schema: ExecutionMeasurementsSchema } },
      handler: h.getExecutionMeasurements,
    },
    {
      method: "GET",
      path: "/v1/executions/{id}/logs",
      operationId: "streamExecutionLogs",
      summary: "Server-sent events of the execution's tool output; resume with Last-Event-ID",
      tags: ["executions"],
      access: "viewer",
      stream: "sse",
      params: ExecutionIdParamsSchema,
      headers: LogStreamHeadersSchema,
      responses: {
        200: {
          description: "text/event-stream of output chunks",
          schema: LogChunkSchema,
          contentType: "text/event-stream",
        },
      },
      // Served by the transport as a stream; this entry documents it.
      handler: async () => ({ status: 501 }),
    },
    {
      method: "GET",
      path: "/v1/plans/{id}/as-of",
      operationId: "getPlanAsOf",
      summary: "The plan as it was at a time, replayed from the event stream",
      description:
        "Folds the plan's events up to `at` with the read model's own fold, so the answer is what GET /v1/plans/{id} would have served then. 404 when the plan did not exist yet.",
      tags: ["plans", "audit"],
      access: "viewer",
      params: PlanIdParamsSchema,
      query: AsOfQuerySchema,
      responses: { 200: { description: "The plan at `at`", schema: PlanAsOfSchema } },
      handler: h.planAsOf,
    },
    {
      method: "GET",
      path: "/v1/plans/{id}/explain",
      operationId: "explainPlan",
      summary: "The whole story of a change: intent, planner evidence, revisions, policy, approvals, executions",
      description:
        "Every item names the event that records it (stream sequence, audit record and hash) and the evidence behind it. The prompt and model answer (redacted before they were stored) are included. `verify_evidence=true` also reads every blob and checks its digest.",
      tags: ["plans", "audit"],
      access: "viewer",
      params: PlanIdParamsSchema,
      query: ExplainQuerySchema,
      responses: { 200: { description: "The change explained", schema: ChangeExplanationSchema } },
      handler: h.explainPlan,
    },
    {
      method: "GET",
      path: "/v1/executions/{id}/as-of",
      operationId: "getExecutionAsOf",
      summary: "The execution as it was at a time, replayed from the event stream",
      tags: ["executions", "audit"],
      access: "viewer",
      params: ExecutionIdParamsSchema,
      query: AsOfQuerySchema,
      responses: { 200: { description: "The execution at `at`", schema: ExecutionAsOfSchema } },
      handler: h.executionAsOf,
    },
    {
      method: "GET",
      path: "/v1/executions/{id}/explain",
      operationId: "explainExecution",
      summary: "The story of the change an execution belongs to (its plan, and this and any other run of it)",
      tags: ["executions", "audit"],
      access: "viewer",
      params: ExecutionIdParamsSchema,
      query: ExplainQuerySchema,
      responses: { 200: { description: "The change explained", schema: ChangeExplanationSchema } },
      handler: h.explainExecution,
    },
    {
      method: "GET",
      path: "/v1/audit/events",
      operationId: "listAuditEvents",
      summary: "The hash-chained audit trail, oldest first, filtered and paged",
      description: `Filters: \`from\`/\`to\` (occurred at, RFC 3339; \`to\` exclusive), \`actor\`, \`aggregate_type\`/\`aggregate_id\`, \`type\`, \`correlation_id\`, \`service\` (every record of every change that names it). With \`Accept: ${NDJSON}\` the answer is the export of GET /v1/audit/events.ndjson instead of a page.`,
      tags: ["audit"],
      access: "viewer",
      query: AuditQuerySchema,
      responses: {
        200: { description: "A page of audit records", schema: AuditPageSchema },
      },
      handler: h.listAuditEvents,
    },
    {
      method: "GET",
      path: "/v1/audit/events.ndjson",
      operationId: "exportAuditEvents",
      summary: "Export the audit trail as NDJSON with its chain proof, verifiable offline",
      description: exportDescription,
      tags: ["audit"],
      access: "viewer",
      query: AuditExportQuerySchema,
      responses: {
        200: {
          description: "One JSON object per line (schema: each line)",
          schema: AuditExportLineSchema,
          contentType: NDJSON,
        },
      },
      handler: h.exportAuditEvents,
    },
    {
      method: "GET",
      path: "/v1/audit/verify",
      operationId: "verifyAudit",
      summary: "Verify the audit chain end to end and, with evidence=true, every evidence blob (admin; can be slow)",
      description:
        "Walks the whole chain (every record rehashed, every column compared with its hashed text) and names the first record that fails: altered, deleted or reordered. `tail` compares the chain's end with the events stream. `evidence=true` also reads every evidence blob and checks its sha256, which costs one object-store read per blob: minutes on a large trail. The answer is 200 with `ok: false` when something does not verify.",
      tags: ["audit"],
      access: "admin",
      query: AuditVerifyQuerySchema,
      responses: { 200: { description: "The chain's state (and the evidence's)", schema: AuditVerificationSchema } },
      handler: h.verifyAudit,
    },
    {
      method: "GET",
      path: "/v1/me",
      operationId: "getMe",
      summary: "The caller as the gateway authenticated them: id, roles and approver groups",
      tags: ["auth"],
      access: "viewer",
      responses: { 200: { description: "The caller", schema: MeResponseSchema } },
      handler: h.getMe,
    },
    {
      method: "GET",
      path: "/v1/ws",
      operationId: "subscribeLive",
      summary: "WebSocket: live plan, execution and audit updates (upgrade; subprotocol wheelhouse.v1)",
      description: `An HTTP/1.1 GET with \`Upgrade: websocket\` (RFC 6455) and subprotocol \`wheelhouse.v1\`.
Authenticate in the handshake with \`Sec-WebSocket-Protocol: wheelhouse.v1, bearer.<jwt>\` or \`?access_token=<jwt>\`,
or without credentials and then a first message \`{"type":"auth","token":"<jwt>"}\` within 5 s (viewer role).
Client messages: \`#/components/schemas/WsClientMessage\`; server messages: \`#/components/schemas/WsServerMessage\`.
After \`{"type":"subscribe","topics":[...],"filters":{...},"cursor":<seq>}\` every event carries its stream \`seq\`:
reconnect with the last one as \`cursor\` to miss nothing. Close codes: 4401 unauthenticated, 1013 slow consumer
(more than 1 MiB unsent).`,
      tags: ["live"],
      access: "viewer",
      stream: "websocket",
      query: WsQuerySchema,
      extraParameters: [
        { name: "Upgrade", in: "header", required: true, schema: { type: "string", const: "websocket" } },
        { name: "Connection", in: "header", required: true, schema: { type: "string", const: "Upgrade" } },
        { name: "Sec-WebSocket-Version", in: "header", required: true, schema: { type: "string", const: "13" } },
        { name: "Sec-WebSocket-Key", in: "header", required: true, schema: { type: "string" } },
        {
          name: "Sec-WebSocket-Protocol",
          in: "header",
          required: false,
          description: "`wheelhouse.v1`, optionally followed by `bearer.<jwt>` to authenticate in the handshake",
          schema: { type: "string", examples: ["wheelhouse.v1, bearer.eyJhbGciOi..."] },
        },
      ],
      // A handshake may also come without credentials: the first message then authenticates.
      security: [{ bearer: [] }, { accessTokenQuery: [] }, {}],
      extensions: {
        "x-websocket": {
          subprotocol: "wheelhouse.v1",
          clientMessages: { $ref: "#/components/schemas/WsClientMessage" },
          serverMessages: { $ref: "#/components/schemas/WsServerMessage" },
          closeCodes: { "4401": "unauthenticated", "1013": "slow consumer: more than 1 MiB unsent" },
        },
      },
      responses: {
        101: { description: "Switching Protocols: the connection is a WebSocket speaking wheelhouse.v1" },
        426: { description: "Upgrade Required: a plain GET without the WebSocket handshake" },
      },
      // Served by the transport's WebSocket plugin; this entry documents it.
      handler: async () => ({ status: 426 }),
    },
    {
      method: "GET",
      path: "/v1/context/services",
      operationId: "listServices",
      summary: "Services in the context graph with their edges",
      tags: ["context"],
      access: "viewer",
      query: ContextServicesQuerySchema,
      responses: { 200: { description: "A page of services", schema: ServicePageSchema } },
      handler: h.listServices,
    },
    {
      method: "GET",
      path: "/v1/context/services/{name}",
      operationId: "getService",
      summary: "One service as the cluster runs it: replicas, images, chart, owners, dependencies and dependents",
      tags: ["context"],
      access: "viewer",
      params: ServiceNameParamsSchema,
      query: ServiceQuerySchema,
      responses: { 200: { description: "The service", schema: ServiceDetailSchema } },
      handler: h.getService,
    },
    ...webhookRoutes(h),
  ];
}

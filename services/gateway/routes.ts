/** The route table: every endpoint's contract, the role it needs, and its transport-free handler. */
import * as v from "valibot";
import {
  AcceptedSchema,
  AlertmanagerWebhookSchema,
  ApprovalRequestSchema,
  ArgoCdNotificationSchema,
  AuditPageSchema,
  AuditQuerySchema,
  CommandQuerySchema,
  ContextServicesQuerySchema,
  CreatePlanRequestSchema,
  ExecutePlanRequestSchema,
  ExecutionIdParamsSchema,
  ExecutionPageSchema,
  ExecutionViewSchema,
  GitHubPullRequestSchema,
  GitHubPushSchema,
  GitLabPushSchema,
  ListExecutionsQuerySchema,
  ListPlansQuerySchema,
  LogChunkSchema,
  PlanIdParamsSchema,
  PlanPageSchema,
  PlanViewSchema,
  ServicePageSchema,
  WebhookAcceptedSchema,
} from "../../schemas/api/index.ts";
import type { Handler, Route } from "./api.ts";

export interface RouteHandlers {
  createPlan: Handler;
  getPlan: Handler;
  listPlans: Handler;
  executePlan: Handler;
  decideApproval: Handler;
  getExecution: Handler;
  listExecutions: Handler;
  listAuditEvents: Handler;
  listServices: Handler;
  alertmanager: Handler;
  argocd: Handler;
  git: Handler;
}

const accepted = { 202: { description: "Accepted: appended and acknowledged by JetStream", schema: AcceptedSchema } };
const webhookAccepted = {
  202: { description: "Signals recorded (duplicates counted, not re-appended)", schema: WebhookAcceptedSchema },
};

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
      responses: accepted,
      handler: h.createPlan,
    },
    {
      method: "GET",
      path: "/v1/plans",
      operationId: "listPlans",
      summary: "List plans, newest first, filtered by status, service and environment",
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
      responses: { 200: { description: "The plan (ETag: its version)", schema: PlanViewSchema } },
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
      responses: accepted,
      handler: h.decideApproval,
    },
    {
      method: "GET",
      path: "/v1/executions",
      operationId: "listExecutions",
      summary: "List executions, newest first",
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
      responses: { 200: { description: "The execution", schema: ExecutionViewSchema } },
      handler: h.getExecution,
    },
    {
      method: "GET",
      path: "/v1/executions/{id}/logs",
      operationId: "streamExecutionLogs",
      summary: "Server-sent events of the execution's tool output; resume with Last-Event-ID",
      tags: ["executions"],
      access: "viewer",
      params: ExecutionIdParamsSchema,
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
      path: "/v1/audit/events",
      operationId: "listAuditEvents",
      summary: "The hash-chained audit trail, oldest first, filtered",
      tags: ["audit"],
      access: "viewer",
      query: AuditQuerySchema,
      responses: { 200: { description: "A page of audit records", schema: AuditPageSchema } },
      handler: h.listAuditEvents,
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
      method: "POST",
      path: "/v1/hooks/alertmanager",
      operationId: "alertmanagerWebhook",
      summary: "Alertmanager webhook (payload version 4); bearer or basic credentials from http_config",
      tags: ["webhooks"],
      access: "webhook",
      body: AlertmanagerWebhookSchema,
      responses: webhookAccepted,
      handler: h.alertmanager,
    },
    {
      method: "POST",
      path: "/v1/hooks/argocd",
      operationId: "argocdWebhook",
      summary: "Argo CD notifications webhook; shared secret in X-Wheelhouse-Token",
      tags: ["webhooks"],
      access: "webhook",
      body: ArgoCdNotificationSchema,
      responses: webhookAccepted,
      handler: h.argocd,
    },
    {
      method: "POST",
      path: "/v1/hooks/git",
      operationId: "gitWebhook",
      summary: "GitHub (X-Hub-Signature-256) or GitLab (X-Gitlab-Token) webhook",
      tags: ["webhooks"],
      access: "webhook",
      body: v.union([GitHubPushSchema, GitHubPullRequestSchema, GitLabPushSchema]),
      responses: {
        ...webhookAccepted,
        200: { description: "A ping: nothing recorded", schema: WebhookAcceptedSchema },
      },
      handler: h.git,
    },
  ];
}

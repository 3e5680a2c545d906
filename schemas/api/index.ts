/** The API's request and response shapes (valibot), the single source of validation and of the OpenAPI document. */
export * from "./approvals.ts";
export * from "./audit.ts";
export * from "./common.ts";
export * from "./context.ts";
export * from "./executions.ts";
export * from "./openapi.ts";
export * from "./plans.ts";
export * from "./webhooks.ts";
export * from "./websocket.ts";

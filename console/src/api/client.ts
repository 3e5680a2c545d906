/**
 * The typed API client: openapi-fetch over the types openapi-typescript generated from the gateway's
 * OpenAPI document (`schema.d.ts`), on this origin, with the signed-in user's bearer token. Every
 * failed call becomes an `ApiError` carrying the RFC 9457 problem the gateway answered with.
 */
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./schema";

export type Problem = components["schemas"]["Problem"];

type Json<Op extends keyof operations, Status extends number = 200> =
  operations[Op]["responses"] extends Record<Status, { content: { "application/json": infer T } }> ? T : never;

export type Plan = Json<"getPlan">;
export type PlanPage = Json<"listPlans">;
export type PlanStatus = Plan["status"];
export type Execution = Json<"getExecution">;
export type ExecutionMeasurements = Json<"getExecutionMeasurements">;
export type Me = Json<"getMe">;
export type Explanation = Json<"explainPlan">;
export type PlanAsOf = Json<"getPlanAsOf">;
export type AuditPage = Json<"listAuditEvents">;
export type AuditRecord = AuditPage["items"][number];
export type AuditVerification = Json<"verifyAudit">;
export type ServicePage = Json<"listServices">;
export type ServiceView = ServicePage["items"][number];
export type ServiceDetail = Json<"getService">;
export type Accepted = Json<"createPlan", 202>;
export type WsServerMessage = components["schemas"]["WsServerMessage"];
export type WsClientMessage = components["schemas"]["WsClientMessage"];

/** A failed call: the problem the API answered with (or one made from the status when it sent none). */
export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail);
    this.name = "ApiError";
    this.problem = problem;
  }
}

/** Any failure as a problem, so that every error on a page shows a detail and a fix. */
export function toProblem(error: unknown): Problem {
  if (error instanceof ApiError) return error.problem;
  const message = error instanceof Error ? error.message : String(error);
  return {
    type: "about:blank",
    title: "The request did not reach the API",
    status: 0,
    code: "network_error",
    detail: message,
    fix: "check that the gateway is running and reachable, then try again",
  };
}

function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "detail" in value && "status" in value;
}

/** A problem for an answer that carried none (a proxy's HTML error page, an empty 502). */
function problemOf(response: Response, body: unknown): Problem {
  if (isProblem(body)) return body;
  return {
    type: "about:blank",
    title: response.statusText || "Request failed",
    status: response.status,
    code: `http_${response.status}`,
    detail: `${response.url} answered ${response.status} ${response.statusText}`.trim(),
    fix: response.status >= 500 ? "the gateway failed: see its log, then try again" : "reload the page and try again",
  };
}

export type TokenSource = () => Promise<string | null>;

export function createApi(token: TokenSource) {
  const client = createClient<paths>({ baseUrl: window.location.origin });
  client.use({
    async onRequest({ request }) {
      const bearer = await token();
      if (bearer) request.headers.set("authorization", `Bearer ${bearer}`);
      return request;
    },
  });
  return client;
}

export type Api = ReturnType<typeof createApi>;

/** The data of a successful call, or throws its problem as an `ApiError`. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (error) {
    throw error instanceof ApiError ? error : new ApiError(toProblem(error));
  }
  if (result.response.ok && result.data !== undefined) return result.data;
  throw new ApiError(problemOf(result.response, result.error));
}

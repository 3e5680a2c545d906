/**
 * The transport-free shape of the API: a handler is a plain async function
 * from a request to a response, so the HTTP server (Fastify today) is a thin
 * adapter and could be swapped without touching the handlers.
 */
import * as v from "valibot";
import type { Actor, ApprovalChannel, Role } from "../../events/index.ts";
import { type FieldIssue, ValidationError } from "../../lib/errors/index.ts";
import { headerName, type OperationSpec } from "../../schemas/api/index.ts";

export interface ApiRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly body: unknown;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The verified caller; `null` on public and webhook endpoints. */
  readonly actor: Actor | null;
  /**
   * The channel the caller acts through when a trusted service acts for them (ChatOps: `slack`, from its
   * on-behalf-of token, lib/auth/delegation.ts); undefined for a direct call.
   */
  readonly channel?: ApprovalChannel | undefined;
  /** Exact bytes of the body (webhook signatures are computed over them). */
  readonly rawBody?: Buffer | undefined;
  readonly requestId: string;
  /**
   * Set by the Idempotency-Key layer on a retry whose first request left no answer (its process died,
   * or NATS went away before the answer was stored): the command first looks for the events that
   * request appended under the key and answers from them, and decides again only when there are none.
   */
  readonly resumed?: boolean | undefined;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly body?: unknown;
}

export type Handler = (request: ApiRequest) => Promise<ApiResponse>;

/** `role`: the least role needed; `webhook`: provider credentials checked by the handler; `public`: none. */
export type Access = Role | "webhook" | "public";

/**
 * One endpoint: its contract (for validation and the OpenAPI document) and its handler. The transport
 * checks the request against the contract (`validateRequest`) before the handler runs, so a handler
 * never acts on a request that will be refused.
 */
export interface Route extends OperationSpec {
  readonly access: Access;
  /** Commands are rate limited per actor, honour `Idempotency-Key` and `Prefer: wait`. */
  readonly command?: boolean | undefined;
  /**
   * Served by the transport as a stream (`handler` only documents it): authenticated and validated
   * like every route, then handed to the transport's SSE or WebSocket code.
   */
  readonly stream?: "sse" | "websocket" | undefined;
  /**
   * Why the body is checked by the handler rather than against `body` before it runs: only webhooks,
   * whose handler must check the provider's credentials first and picks the shape by event header.
   */
  readonly bodyCheckedByHandler?: string | undefined;
  readonly handler: Handler;
}

/**
 * Checks path, query, headers and body against the route's declared schemas, throwing the first
 * part's `ValidationError`. A route without a query schema takes no query parameters. Handlers may
 * read their typed input again with `parseInput`; what reaches them has passed these checks.
 */
export function validateRequest(route: Route, request: Pick<ApiRequest, "params" | "query" | "headers" | "body">) {
  parseInput(route.params ?? NO_PARAMS, request.params, "params");
  parseInput(route.query ?? NO_QUERY, request.query, "query");
  if (route.headers) parseInput(route.headers, request.headers, "headers");
  if (route.body && route.bodyCheckedByHandler === undefined) parseInput(route.body, request.body, "body");
}

/**
 * Refuses a route table a request could slip through unchecked: every `{param}` in a path needs a
 * params schema, every POST a body schema (or a webhook's reason to check it itself), and no stream
 * may be public. Run when the transport is built, so a new route cannot forget its contract.
 */
export function assertRouteContracts(routes: readonly Route[]): void {
  for (const route of routes) {
    const where = `${route.method} ${route.path}`;
    if (/\{\w+\}/.test(route.path) && !route.params)
      throw new Error(`${where}: a path parameter without a params schema`);
    if (route.method === "POST" && !route.body) throw new Error(`${where}: a POST without a body schema`);
    if (route.bodyCheckedByHandler !== undefined && route.access !== "webhook") {
      throw new Error(`${where}: only webhooks may check their body in the handler`);
    }
    if (route.stream && (route.access === "public" || route.access === "webhook")) {
      throw new Error(`${where}: a stream must name the role it needs`);
    }
  }
}

const NO_PARAMS = v.strictObject({});
const NO_QUERY = v.strictObject({});

/** Validates a part of the request against its schema, naming every bad field and how to fix it. */
export function parseInput<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  where: "body" | "query" | "params" | "headers",
): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issues: FieldIssue[] = result.issues.map((issue) => describeIssue(issue, where));
  const first = issues[0];
  throw new ValidationError(`invalid request ${where}: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`, {
    field: first?.field,
    fix: first?.fix,
    issues,
  });
}

function describeIssue(issue: v.BaseIssue<unknown>, where: string): FieldIssue {
  const dotPath = v.getDotPath(issue);
  // A header is named as it is sent (`Idempotency-Key`), as the other header errors name it.
  const path = where === "headers" && dotPath ? headerName(dotPath) : dotPath;
  const field = where === "headers" && path ? path : path ? `${where}.${path}` : where;
  if (issue.type === "strict_object" && issue.expected === "never") {
    return { field, message: "unknown field", fix: `remove ${path ?? "it"}; this endpoint does not accept it` };
  }
  if (issue.kind === "schema" && issue.received === "undefined") {
    return { field, message: "is required", fix: `send ${path ?? where} (${issue.expected})` };
  }
  const message = issue.message.replace(/^Invalid \w+: /, "");
  // A validation's own message says what is wanted ("must be an RFC 3339 timestamp such as ..."): that is the fix.
  const fix =
    issue.kind === "validation" && message.startsWith("must ")
      ? `${path ?? where} ${message}`
      : issue.expected
        ? `send a value matching ${issue.expected}`
        : `correct ${path ?? where}`;
  return { field, message: issue.received ? `${message} (got ${issue.received})` : message, fix };
}

export function json(status: number, body: unknown, headers?: Record<string, string>): ApiResponse {
  return { status, body, ...(headers ? { headers } : {}) };
}

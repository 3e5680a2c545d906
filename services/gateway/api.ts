/**
 * The transport-free shape of the API: a handler is a plain async function
 * from a request to a response, so the HTTP server (Fastify today) is a thin
 * adapter and could be swapped without touching the handlers.
 */
import * as v from "valibot";
import type { Actor, Role } from "../../events/index.ts";
import { type FieldIssue, ValidationError } from "../../lib/errors/index.ts";
import type { OperationSpec } from "../../schemas/api/index.ts";

export interface ApiRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly body: unknown;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The verified caller; `null` on public and webhook endpoints. */
  readonly actor: Actor | null;
  /** Exact bytes of the body (webhook signatures are computed over them). */
  readonly rawBody?: Buffer | undefined;
  readonly requestId: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly body?: unknown;
}

export type Handler = (request: ApiRequest) => Promise<ApiResponse>;

/** `role`: the least role needed; `webhook`: provider credentials checked by the handler; `public`: none. */
export type Access = Role | "webhook" | "public";

/** One endpoint: its contract (for validation and the OpenAPI document) and its handler. */
export interface Route extends OperationSpec {
  readonly access: Access;
  /** Commands are rate limited per actor, honour `Idempotency-Key` and `Prefer: wait`. */
  readonly command?: boolean | undefined;
  readonly handler: Handler;
}

/** Validates a part of the request against its schema, naming every bad field and how to fix it. */
export function parseInput<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  where: "body" | "query" | "params",
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
  const path = v.getDotPath(issue);
  const field = path ? `${where}.${path}` : where;
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

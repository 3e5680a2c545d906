/**
 * Every error code Wheelhouse answers with, its HTTP status and what it means,
 * in one table (fastify's `errors.js` is the model). A `WheelhouseError` takes
 * its status from here, so a code cannot mean 400 in one place and 422 in
 * another; the problem+json `title` is the status's reason phrase and `type`
 * ends in the code.
 *
 * Adding a code: one row here, with the status a client should branch on.
 */
export const ERROR_CODES = {
  validation_failed: { status: 400, title: "Bad Request", means: "a field of the request, config or input is invalid" },
  bad_request: { status: 400, title: "Bad Request", means: "the request cannot be read (as the HTTP layer said)" },
  unauthenticated: { status: 401, title: "Unauthorized", means: "no valid credentials came with the request" },
  forbidden: { status: 403, title: "Forbidden", means: "the caller may not do this, or policy denies it" },
  not_found: { status: 404, title: "Not Found", means: "no such resource or endpoint" },
  method_not_allowed: { status: 405, title: "Method Not Allowed", means: "the resource does not take this method" },
  conflict: { status: 409, title: "Conflict", means: "the state moved on, or the command does not fit it" },
  precondition_failed: { status: 412, title: "Precondition Failed", means: "a precondition header did not hold" },
  payload_too_large: { status: 413, title: "Content Too Large", means: "the body is larger than the limit" },
  unsupported_media_type: { status: 415, title: "Unsupported Media Type", means: "the body is not JSON" },
  idempotency_key_reused: {
    status: 422,
    title: "Unprocessable Content",
    means: "an Idempotency-Key came back with a different request",
  },
  rate_limited: { status: 429, title: "Too Many Requests", means: "too many requests; retry after `retry_after` s" },
  internal: { status: 500, title: "Internal Server Error", means: "a fault of Wheelhouse itself (logged)" },
  invalid_config: { status: 500, title: "Internal Server Error", means: "the configuration is invalid" },
  append_rejected: { status: 500, title: "Internal Server Error", means: "JetStream refused an append" },
  evidence_integrity_failed: {
    status: 500,
    title: "Internal Server Error",
    means: "a stored evidence blob no longer matches its digest",
  },
  upstream_error: { status: 502, title: "Bad Gateway", means: "another Wheelhouse process answered with an error" },
  unavailable: { status: 503, title: "Service Unavailable", means: "a dependency is not answering; retry" },
  stream_changed: { status: 503, title: "Service Unavailable", means: "the events stream is not the one projected" },
} as const satisfies Record<string, { readonly status: number; readonly title: string; readonly means: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** The reason phrase for a status, from the table (for relayed problems whose code is not ours). */
export function titleOf(status: number): string {
  return Object.values(ERROR_CODES).find((entry) => entry.status === status)?.title ?? "Error";
}

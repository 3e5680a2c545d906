/**
 * The one error hierarchy of Wheelhouse.
 *
 * Every error that crosses a boundary (HTTP, RPC, Temporal activity, CLI) is a
 * `WheelhouseError` with a stable string `code`, an HTTP status, and, where a
 * caller can do something about it, the field at fault and how to fix it.
 * Unknown errors are wrapped at the edges with `toWheelhouseError`, never
 * swallowed. Codes and their statuses live in one table (codes.ts).
 */
import { ERROR_CODES, type ErrorCode, isErrorCode, titleOf } from "./codes.ts";

export { ERROR_CODES, type ErrorCode, isErrorCode } from "./codes.ts";

export interface ErrorDetails {
  /** Where the problem is: a JSON pointer, a config path, a header name. */
  readonly field?: string | undefined;
  /** What the caller should do about it, in one sentence. */
  readonly fix?: string | undefined;
  /** Anything else a client may act on (current version, retry-after seconds). */
  readonly extra?: Readonly<Record<string, unknown>> | undefined;
  readonly cause?: unknown;
}

export class WheelhouseError extends Error {
  /** Stable machine-readable code from `ERROR_CODES`, e.g. `validation_failed` (a `RelayedError` keeps its sender's). */
  readonly code: string;
  /** HTTP status this error maps to at the API edge: the code's row in `ERROR_CODES`. */
  readonly status: number;
  readonly field: string | undefined;
  readonly fix: string | undefined;
  readonly extra: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "WheelhouseError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.field = details.field;
    this.fix = details.fix;
    this.extra = details.extra;
  }
}

/** One problem with one field, as reported inside a `ValidationError`. */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
  readonly fix?: string | undefined;
}

export class ValidationError extends WheelhouseError {
  readonly issues: readonly FieldIssue[];
  constructor(message: string, details: ErrorDetails & { issues?: readonly FieldIssue[] } = {}) {
    super("validation_failed", message, details);
    this.name = "ValidationError";
    this.issues = details.issues ?? (details.field ? [{ field: details.field, message, fix: details.fix }] : []);
  }
}

export class UnauthenticatedError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("unauthenticated", message, details);
    this.name = "UnauthenticatedError";
  }
}

export class ForbiddenError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("forbidden", message, details);
    this.name = "ForbiddenError";
  }
}

export class NotFoundError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("not_found", message, details);
    this.name = "NotFoundError";
  }
}

/** A write raced another one: the aggregate moved on since the caller read it. */
export class ConflictError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("conflict", message, details);
    this.name = "ConflictError";
  }
}

export class PreconditionFailedError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("precondition_failed", message, details);
    this.name = "PreconditionFailedError";
  }
}

export class PayloadTooLargeError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("payload_too_large", message, details);
    this.name = "PayloadTooLargeError";
  }
}

export class UnsupportedMediaTypeError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("unsupported_media_type", message, details);
    this.name = "UnsupportedMediaTypeError";
  }
}

export class RateLimitedError extends WheelhouseError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, details: ErrorDetails = {}) {
    super("rate_limited", message, { ...details, extra: { ...details.extra, retry_after: retryAfterSeconds } });
    this.name = "RateLimitedError";
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency (NATS, Postgres, an LLM provider, a CLI) is not answering. */
export class UnavailableError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("unavailable", message, details);
    this.name = "UnavailableError";
  }
}

/** Invalid configuration: stops start-up with the field, the problem and the fix. */
export class ConfigError extends WheelhouseError {
  readonly issues: readonly FieldIssue[];
  constructor(message: string, issues: readonly FieldIssue[], details: ErrorDetails = {}) {
    super("invalid_config", message, details);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export class MethodNotAllowedError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("method_not_allowed", message, details);
    this.name = "MethodNotAllowedError";
  }
}

/** A problem another process or library answered with, under its own code and status (not this table's). */
export class RelayedError extends WheelhouseError {
  constructor(code: string, status: number, message: string, details: ErrorDetails = {}) {
    super("upstream_error", message, details);
    this.name = "RelayedError";
    // The table names this process's codes; a relay keeps the sender's, so callers can branch on them.
    Object.assign(this, { code, status });
  }
}

/** Wraps anything thrown into a `WheelhouseError`, keeping the original as `cause`. */
export function toWheelhouseError(error: unknown): WheelhouseError {
  if (error instanceof WheelhouseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new WheelhouseError("internal", `internal error: ${message}`, { cause: error });
}

/** RFC 9457 problem details, as served by the API. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly instance?: string;
  readonly field?: string;
  readonly fix?: string;
  readonly errors?: readonly FieldIssue[];
  readonly [extension: string]: unknown;
}

/** Renders an error as RFC 9457 problem+json. Internal errors do not leak their message. */
export function toProblem(error: unknown, instance?: string): ProblemDetails {
  const e = toWheelhouseError(error);
  const internal = e.status >= 500 && e.code === "internal";
  const issues = e instanceof ValidationError || e instanceof ConfigError ? e.issues : undefined;
  return {
    type: `https://wheelhouse.dev/problems/${e.code}`,
    title:
      isErrorCode(e.code) && ERROR_CODES[e.code].status === e.status ? ERROR_CODES[e.code].title : titleOf(e.status),
    status: e.status,
    detail: internal ? "The server failed to handle this request; the error was logged." : e.message,
    code: e.code,
    ...(instance === undefined ? {} : { instance }),
    ...(e.field === undefined ? {} : { field: e.field }),
    ...(e.fix === undefined ? {} : { fix: e.fix }),
    ...(issues && issues.length > 0 ? { errors: issues } : {}),
    ...(e.extra ?? {}),
  };
}

/**
 * The one error hierarchy of Wheelhouse.
 *
 * Every error that crosses a boundary (HTTP, RPC, Temporal activity, CLI) is a
 * `WheelhouseError` with a stable string `code`, an HTTP status, and, where a
 * caller can do something about it, the field at fault and how to fix it.
 * Unknown errors are wrapped at the edges with `toWheelhouseError`, never
 * swallowed.
 */

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
  /** Stable machine-readable code, e.g. `validation_failed`. */
  readonly code: string;
  /** HTTP status this error maps to at the API edge. */
  readonly status: number;
  readonly field: string | undefined;
  readonly fix: string | undefined;
  readonly extra: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, status: number, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "WheelhouseError";
    this.code = code;
    this.status = status;
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
    super("validation_failed", 400, message, details);
    this.name = "ValidationError";
    this.issues = details.issues ?? (details.field ? [{ field: details.field, message, fix: details.fix }] : []);
  }
}

export class UnauthenticatedError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("unauthenticated", 401, message, details);
    this.name = "UnauthenticatedError";
  }
}

export class ForbiddenError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("forbidden", 403, message, details);
    this.name = "ForbiddenError";
  }
}

export class NotFoundError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("not_found", 404, message, details);
    this.name = "NotFoundError";
  }
}

/** A write raced another one: the aggregate moved on since the caller read it. */
export class ConflictError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("conflict", 409, message, details);
    this.name = "ConflictError";
  }
}

export class PreconditionFailedError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("precondition_failed", 412, message, details);
    this.name = "PreconditionFailedError";
  }
}

export class PayloadTooLargeError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("payload_too_large", 413, message, details);
    this.name = "PayloadTooLargeError";
  }
}

export class UnsupportedMediaTypeError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("unsupported_media_type", 415, message, details);
    this.name = "UnsupportedMediaTypeError";
  }
}

export class RateLimitedError extends WheelhouseError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, details: ErrorDetails = {}) {
    super("rate_limited", 429, message, { ...details, extra: { ...details.extra, retry_after: retryAfterSeconds } });
    this.name = "RateLimitedError";
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency (NATS, Postgres, an LLM provider, a CLI) is not answering. */
export class UnavailableError extends WheelhouseError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("unavailable", 503, message, details);
    this.name = "UnavailableError";
  }
}

/** Invalid configuration: stops start-up with the field, the problem and the fix. */
export class ConfigError extends WheelhouseError {
  readonly issues: readonly FieldIssue[];
  constructor(message: string, issues: readonly FieldIssue[], details: ErrorDetails = {}) {
    super("invalid_config", 500, message, details);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** Wraps anything thrown into a `WheelhouseError`, keeping the original as `cause`. */
export function toWheelhouseError(error: unknown): WheelhouseError {
  if (error instanceof WheelhouseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new WheelhouseError("internal", 500, `internal error: ${message}`, { cause: error });
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

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Renders an error as RFC 9457 problem+json. Internal errors do not leak their message. */
export function toProblem(error: unknown, instance?: string): ProblemDetails {
  const e = toWheelhouseError(error);
  const internal = e.status >= 500 && e.code === "internal";
  const issues = e instanceof ValidationError || e instanceof ConfigError ? e.issues : undefined;
  return {
    type: `https://wheelhouse.dev/problems/${e.code}`,
    title: titles[e.status] ?? "Error",
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

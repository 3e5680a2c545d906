/**
 * Structured logging on pino: JSON lines in production, readable lines in a
 * terminal, secrets redacted by field name and, inside every message and
 * field value, by the redaction library (lib/redact), correlation and request
 * ids carried through child loggers.
 */
import { type Logger, type LoggerOptions, pino } from "pino";
import pinoPretty from "pino-pretty";
import { defaultScrub } from "../redact/index.ts";

export type { Logger } from "pino";

export interface LogOptions {
  /** Component name, e.g. `gateway`; becomes the `service` field. */
  readonly service: string;
  readonly level?: string | undefined;
  /** `json` for machines, `pretty` for a terminal; `auto` picks pretty on a TTY. */
  readonly format?: "json" | "pretty" | "auto" | undefined;
  /**
   * The scrubber applied to every message and field value; by default the
   * redaction library's (`defaultScrub`). Pass `createScrubber(redact_patterns)`
   * to add the configured patterns.
   */
  readonly scrub?: ((text: string) => string) | undefined;
  /** Write here instead of stdout (tests capture logs this way). */
  readonly destination?: NodeJS.WritableStream | undefined;
}

/**
 * Field paths whose values are never written, whatever the level. pino's
 * fast-redact replaces them with `[REDACTED:field]` without cloning the object.
 */
export const REDACTED_PATHS: readonly string[] = [
  "password",
  "*.password",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "api_key",
  "*.api_key",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-gitlab-token"]',
  "access_token",
  "*.access_token",
  "refresh_token",
  "*.refresh_token",
  "client_secret",
  "*.client_secret",
  "private_key",
  "*.private_key",
];

export function createLogger(options: LogOptions): Logger {
  const format = options.format ?? "auto";
  const pretty = logFormat(format, process.stdout.isTTY === true) === "pretty";
  const scrub = options.scrub ?? defaultScrub;
  const config: LoggerOptions = {
    level: options.level ?? "info",
    base: { service: options.service },
    redact: { paths: [...REDACTED_PATHS], censor: "[REDACTED:field]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      // Secrets also hide in field values (an error message, a command line): scrub those too.
      log: (object: Record<string, unknown>) => scrubValues(object, scrub, 0) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === "string" ? scrub(a) : a));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  if (options.destination) return pino(config, options.destination);
  if (pretty) return pino(config, prettyStdout());
  return pino(config);
}

/** `auto` is readable lines on a terminal and JSON lines otherwise (a pipe, a file, a log collector). */
export function logFormat(format: "json" | "pretty" | "auto", stdoutIsTTY: boolean): "json" | "pretty" {
  if (format === "auto") return stdoutIsTTY ? "pretty" : "json";
  return format;
}

let prettyStream: ReturnType<typeof pinoPretty> | null = null;

/**
 * One readable stream to stdout for every logger of the process, written in this thread: lines
 * keep their order across components and none is lost when the process exits (a transport would
 * start a worker per logger). Colours follow the terminal (NO_COLOR and FORCE_COLOR are honoured).
 */
function prettyStdout(): ReturnType<typeof pinoPretty> {
  prettyStream ??= pinoPretty({ sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" });
  return prettyStream;
}

/** A child logger that stamps every line with the ids that tie a request to its events. */
export function withContext(
  logger: Logger,
  ids: { correlation_id?: string | undefined; request_id?: string | undefined; [key: string]: unknown },
): Logger {
  const bindings: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ids)) if (v !== undefined) bindings[k] = v;
  return logger.child(bindings);
}

/** Scrubs every string inside a log object, to a bounded depth; errors keep their message and stack scrubbed. */
function scrubValues(value: unknown, scrub: (text: string) => string, depth: number): unknown {
  if (typeof value === "string") return scrub(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) {
    return { type: value.name, message: scrub(value.message), stack: value.stack ? scrub(value.stack) : undefined };
  }
  if (Array.isArray(value)) return value.map((v) => scrubValues(v, scrub, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubValues(v, scrub, depth + 1);
  return out;
}

/**
 * How a source is doing, for /readyz and the logs: ok, stale (with the age of what it last saw),
 * error (with the error, since when, and when it retries), or starting. A failure is logged when it
 * starts or changes and each retry after; recovery is logged once. Malformed objects are logged
 * once each and counted while they stay malformed.
 */
import type { Logger } from "../../../lib/log/index.ts";

export type SourceStatus = "ok" | "stale" | "error" | "starting";

export interface SourceHealth {
  readonly status: SourceStatus;
  /** Seconds since the source last answered (null: never). */
  readonly age_seconds: number | null;
  readonly error?: string;
  /** When the current failure started (ISO 8601). */
  readonly failing_since?: string;
  readonly retry_in_ms?: number;
  /** Objects left out of the graph because they are malformed, with a few of the reasons. */
  readonly malformed?: { readonly count: number; readonly examples: readonly string[] };
}

export interface TrackerOptions {
  readonly now?: () => number;
  /** Past this age without an answer a source that is not failing is stale. */
  readonly staleAfterMs: number;
}

export class SourceTracker {
  private lastOk: number | null = null;
  private failure: { message: string; since: number; retryInMs?: number | undefined } | null = null;
  private readonly bad = new Map<string, string>();
  private readonly now: () => number;

  constructor(
    readonly name: string,
    private readonly logger: Logger,
    private readonly options: TrackerOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  succeeded(detail: Record<string, unknown> = {}): void {
    if (this.failure) {
      this.logger.info(
        { source: this.name, failed_for_ms: this.now() - this.failure.since, ...detail },
        `${this.name}: reachable again`,
      );
      this.failure = null;
    }
    this.lastOk = this.now();
  }

  failed(message: string, opts: { retryInMs?: number } = {}): void {
    const since = this.failure?.since ?? this.now();
    const age =
      this.lastOk === null ? "never reached" : `last answer ${Math.round((this.now() - this.lastOk) / 1000)} s ago`;
    const retry = opts.retryInMs === undefined ? "" : `; retrying in ${Math.round(opts.retryInMs / 1000)} s`;
    this.logger.warn(
      { source: this.name, error: message, retry_in_ms: opts.retryInMs },
      `${this.name}: ${message} (${age}; the graph keeps what it last saw${retry})`,
    );
    this.failure = { message, since, retryInMs: opts.retryInMs };
  }

  malformed(key: string, message: string): void {
    if (this.bad.get(key) !== message) {
      this.logger.warn({ source: this.name, object: key }, `${this.name}: left out a malformed object: ${message}`);
    }
    this.bad.set(key, message);
  }

  /** The malformed items of a whole poll: those no longer reported are cleared. */
  replaceMalformed(messages: readonly string[]): void {
    const keep = new Set(messages);
    for (const key of [...this.bad.keys()]) if (!keep.has(key)) this.bad.delete(key);
    for (const m of messages) this.malformed(m, m);
  }

  clearMalformed(key: string): void {
    this.bad.delete(key);
  }

  hasSucceeded(): boolean {
    return this.lastOk !== null;
  }

  health(): SourceHealth {
    const now = this.now();
    const age = this.lastOk === null ? null : Math.round((now - this.lastOk) / 1000);
    const malformed =
      this.bad.size === 0 ? {} : { malformed: { count: this.bad.size, examples: [...this.bad.values()].slice(0, 3) } };
    if (this.failure) {
      return {
        status: "error",
        age_seconds: age,
        error: this.failure.message,
        failing_since: new Date(this.failure.since).toISOString(),
        ...(this.failure.retryInMs === undefined ? {} : { retry_in_ms: this.failure.retryInMs }),
        ...malformed,
      };
    }
    if (this.lastOk === null) return { status: "starting", age_seconds: null, ...malformed };
    const stale = now - this.lastOk > this.options.staleAfterMs;
    return { status: stale ? "stale" : "ok", age_seconds: age, ...malformed };
  }
}

/** The worst of several: error, then stale, then starting, then ok. */
export function worstOf(healths: Iterable<SourceHealth>): SourceHealth {
  const rank: Record<SourceStatus, number> = { ok: 0, starting: 1, stale: 2, error: 3 };
  let worst: SourceHealth = { status: "ok", age_seconds: null };
  for (const h of healths)
    if (rank[h.status] > rank[worst.status] || (worst.age_seconds === null && h.status === worst.status)) worst = h;
  return worst;
}

/**
 * A source read by polling (AWS, Grafana): one poll at a time, every `intervalMs`, each bounded by
 * `timeoutMs`. A poll that finds what the last one found changes nothing; one that fails or times
 * out keeps the last result (the graph does not drop what it cannot see right now) and says so in
 * the health, which turns stale once the last answer is older than two intervals and a timeout.
 */
import type { Logger } from "../../../lib/log/index.ts";
import { type SourceHealth, SourceTracker } from "./health.ts";

export interface PollerOptions<T> {
  readonly name: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly poll: (signal: AbortSignal) => Promise<T>;
  /** Items of a result left out as malformed, one message each (logged once, counted in the health). */
  readonly problems?: (result: T) => readonly string[];
  /** The result differs from the last one. */
  readonly onChange: () => void;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface Poller<T> {
  start(): void;
  stop(): Promise<void>;
  /** Polls now (or waits for the poll under way) and resolves when it is done, failed or not. */
  pollNow(): Promise<void>;
  /** The last successful result; null before the first. */
  latest(): T | null;
  synced(): boolean;
  health(): SourceHealth;
}

export function createPoller<T>(opts: PollerOptions<T>): Poller<T> {
  const tracker = new SourceTracker(opts.name, opts.logger, {
    now: opts.now,
    staleAfterMs: 2 * opts.intervalMs + opts.timeoutMs,
  });
  const stopping = new AbortController();
  let latest: T | null = null;
  let latestJson: string | null = null;
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;

  async function pollOnce(): Promise<void> {
    const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(opts.timeoutMs)]);
    try {
      const result = await opts.poll(signal);
      tracker.succeeded();
      tracker.replaceMalformed(opts.problems?.(result) ?? []);
      const json = JSON.stringify(result);
      if (json !== latestJson) {
        latest = result;
        latestJson = json;
        opts.onChange();
      }
    } catch (error) {
      if (stopping.signal.aborted) return;
      const message =
        signal.aborted || (error as Error).name === "TimeoutError" || (error as Error).name === "AbortError"
          ? `no answer within ${opts.timeoutMs} ms (poll timeout)`
          : ((error as Error).message ?? String(error));
      tracker.failed(message, { retryInMs: opts.intervalMs });
    }
  }

  const pollNow = () => {
    running ??= pollOnce().finally(() => {
      running = null;
    });
    return running;
  };
  const schedule = () => {
    if (stopping.signal.aborted) return;
    timer = setTimeout(() => void pollNow().then(schedule), opts.intervalMs);
  };

  return {
    start() {
      void pollNow().then(schedule);
    },
    async stop() {
      stopping.abort();
      if (timer) clearTimeout(timer);
      await running;
    },
    pollNow,
    latest: () => latest,
    synced: () => tracker.hasSucceeded(),
    health: () => tracker.health(),
  };
}

/**
 * When the graph is rebuilt and recorded: a short while after a change (changes that arrive
 * together make one pass), at most one pass at a time, another right after one that saw changes
 * arrive while it ran, and one every `resyncMs` regardless (a failed append is retried there).
 */
import type { Logger } from "../../lib/log/index.ts";

export interface PassRunner {
  /** A change happened: run a pass soon. */
  schedule(): void;
  /** Runs a pass now (after the one under way) and resolves when it is done. */
  runNow(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function createPassRunner(opts: {
  readonly run: () => Promise<void>;
  readonly debounceMs: number;
  readonly resyncMs: number;
  readonly logger: Logger;
}): PassRunner {
  let running: Promise<void> | null = null;
  let dirty = false;
  let timer: NodeJS.Timeout | null = null;
  let resync: NodeJS.Timeout | null = null;
  let stopped = false;

  const pass = (): Promise<void> => {
    const previous = running ?? Promise.resolve();
    const next = previous.then(async () => {
      dirty = false;
      try {
        await opts.run();
      } catch (error) {
        opts.logger.error(
          { err: error },
          `context pass failed: ${(error as Error).message}; the next change or resync retries`,
        );
      }
    });
    running = next.finally(() => {
      if (running === guarded) running = null;
      if (dirty && !stopped) schedule();
    });
    const guarded = running;
    return next;
  };

  function schedule(): void {
    dirty = true;
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = null;
      // A pass under way picks this change up in the one that follows it.
      if (running) return;
      void pass();
    }, opts.debounceMs);
  }

  return {
    schedule,
    runNow: () => (stopped ? Promise.resolve() : pass()),
    start() {
      const tick = () => {
        resync = setTimeout(() => {
          void pass().then(() => {
            if (!stopped) tick();
          });
        }, opts.resyncMs);
      };
      tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (resync) clearTimeout(resync);
      await running;
    },
  };
}

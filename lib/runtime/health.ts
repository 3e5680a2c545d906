/**
 * Health of the services in one process, for the gateway's /readyz: a service registers a check
 * (the context service: its sources, ok / stale / error), the gateway reports them beside its own.
 * A check that is not `critical` is shown without making the process unready.
 */

export interface ComponentHealth {
  /** One line: `ok`, or what is wrong and since when. */
  readonly summary: string;
  /** Whether the process is unready while this is not `ok`. */
  readonly critical: boolean;
}

export interface HealthChecks {
  /** Adds a named check; the returned function removes it (on stop). */
  register(name: string, check: () => ComponentHealth | Promise<ComponentHealth>): () => void;
  report(): Promise<Record<string, ComponentHealth>>;
}

export function createHealthChecks(): HealthChecks {
  const checks = new Map<string, () => ComponentHealth | Promise<ComponentHealth>>();
  return {
    register(name, check) {
      checks.set(name, check);
      return () => {
        if (checks.get(name) === check) checks.delete(name);
      };
    },
    async report() {
      const out: Record<string, ComponentHealth> = {};
      for (const [name, check] of checks) {
        try {
          out[name] = await check();
        } catch (error) {
          out[name] = { summary: `check failed: ${(error as Error).message}`, critical: false };
        }
      }
      return out;
    },
  };
}

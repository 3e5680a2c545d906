/**
 * Reads that follow a live event: the WebSocket delivers an event as soon as it is in the stream,
 * the read model folds it a moment later, so a read after an event waits (briefly, with a deadline)
 * until the row has folded at least that event's sequence.
 */
import { type Api, ApiError, type Plan, unwrap } from "./client";

const delays = [50, 100, 200, 400, 800, 1000, 1000, 1000];

/** The plan once its row has folded event `seq`; null when it is not readable within a few seconds. */
export async function planAtLeast(api: Api, planId: string, seq: number): Promise<Plan | null> {
  const read = async (): Promise<Plan | null> => {
    try {
      return await unwrap(api.GET("/v1/plans/{id}", { params: { path: { id: planId } } }));
    } catch (error) {
      // A plan just requested is in the stream before it is in the read model.
      if (error instanceof ApiError && error.problem.status === 404) return null;
      throw error;
    }
  };
  let plan = await read();
  for (const delay of delays) {
    if (plan && plan.last_seq >= seq) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
    plan = await read();
  }
  return plan;
}

/** Calls `fn` once per burst of calls, `ms` after the last; `cancel` drops a pending call. */
export function debounce(fn: () => void, ms: number): { (): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const call = () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}
